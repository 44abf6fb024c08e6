"""The labelled grid the VLM reads positions from, and the way back: grid cells -> pixel regions.

A vision model names places far more reliably as "row 3, column 5 of the drawn grid" than as
pixel coordinates; the grid's cells are close to square so a cell means the same size across and
down the frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

RED = (255, 40, 40)
YELLOW = (255, 230, 0)


@dataclass(frozen=True)
class Grid:
    """``rows`` x ``cols`` cells over a ``width`` x ``height`` frame; cell (0, 0) is top left."""

    rows: int
    cols: int
    width: int
    height: int

    @classmethod
    def for_frame(cls, width: int, height: int, min_cells: int = 8) -> "Grid":
        """``min_cells`` along the short side, as many near-square cells along the long side."""
        if width <= 0 or height <= 0:
            raise ValueError(f"grid: frame size must be positive, got {width}x{height}")
        if width >= height:
            rows, cols = min_cells, max(min_cells, round(min_cells * width / height))
        else:
            cols, rows = min_cells, max(min_cells, round(min_cells * height / width))
        return cls(rows, cols, width, height)

    def scaled(self, width: int, height: int) -> "Grid":
        """The same cells over a frame of another size (e.g. the downscaled image sent)."""
        return Grid(self.rows, self.cols, width, height)

    def cell_box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Pixel box (x0, y0, x1, y1), end exclusive, of a cell; cells tile the frame exactly."""
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise ValueError(f"grid cell (row {row}, col {col}) is outside the {self.rows}x{self.cols} grid")
        x0 = round(col * self.width / self.cols)
        x1 = round((col + 1) * self.width / self.cols)
        y0 = round(row * self.height / self.rows)
        y1 = round((row + 1) * self.height / self.rows)
        return x0, y0, x1, y1

    def cell_centre(self, row: int, col: int) -> tuple[float, float]:
        x0, y0, x1, y1 = self.cell_box(row, col)
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    def cells_mask(self, cells: Iterable[tuple[int, int]], *, pad_cells: int = 0) -> np.ndarray:
        """bool (H, W): the union of ``cells`` (row, col), each grown by ``pad_cells`` cells.

        Cells outside the grid (a model's off-by-one at the border) are clamped onto it rather
        than failing the shot: over-masking a border cell is harmless, crashing is not.
        """
        out = np.zeros((self.height, self.width), dtype=bool)
        for row, col in cells:
            r0 = min(max(row - pad_cells, 0), self.rows - 1)
            r1 = min(max(row + pad_cells, 0), self.rows - 1)
            c0 = min(max(col - pad_cells, 0), self.cols - 1)
            c1 = min(max(col + pad_cells, 0), self.cols - 1)
            x0, y0, _, _ = self.cell_box(r0, c0)
            _, _, x1, y1 = self.cell_box(r1, c1)
            out[y0:y1, x0:x1] = True
        return out

    def cells_of(self, mask: np.ndarray, min_fraction: float = 0.02) -> list[tuple[int, int]]:
        """Cells (row, col) in which at least ``min_fraction`` of the pixels are in ``mask``."""
        cells = []
        for r in range(self.rows):
            for c in range(self.cols):
                x0, y0, x1, y1 = self.cell_box(r, c)
                block = mask[y0:y1, x0:x1]
                if block.size and block.mean() >= min_fraction:
                    cells.append((r, c))
        return cells


def annotate_frame(
    rgb: np.ndarray, remove: np.ndarray | None, grid: Grid, label: str, *, max_side: int = 1024
) -> np.ndarray:
    """An 8-bit picture for the VLM: the frame, the remove region tinted red, the grid and labels.

    ``rgb`` is display-referred float (H, W, 3) in [0, 1]; ``remove`` bool (H, W) or None. The
    result is downscaled so its long side is at most ``max_side`` (uploads stay small); the grid
    keeps its rows and columns, so cell labels mean the same cells as on the full frame.
    """
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    img = np.clip(np.rint(np.asarray(rgb, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        if remove is not None:
            remove = cv2.resize(remove.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    img = np.ascontiguousarray(img)
    sh, sw = img.shape[:2]
    if remove is not None and remove.any():
        tinted = img.astype(np.float32)
        tinted[remove] = 0.55 * tinted[remove] + 0.45 * np.array(RED, np.float32)
        img = np.ascontiguousarray(tinted.astype(np.uint8))
    g = grid.scaled(sw, sh)
    thick = max(1, round(min(sw, sh) / 400))
    for c in range(1, g.cols):
        x = g.cell_box(0, c)[0]
        cv2.line(img, (x, 0), (x, sh - 1), YELLOW, thick)
    for r in range(1, g.rows):
        y = g.cell_box(r, 0)[1]
        cv2.line(img, (0, y), (sw - 1, y), YELLOW, thick)
    font, fscale = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, min(sw, sh) / 900)
    for c in range(g.cols):  # column numbers along the top
        x0, _, x1, _ = g.cell_box(0, c)
        cv2.putText(img, str(c), ((x0 + x1) // 2 - 4, int(14 * fscale / 0.4)), font, fscale, YELLOW, thick, cv2.LINE_AA)
    for r in range(g.rows):  # row numbers down the left
        _, y0, _, y1 = g.cell_box(r, 0)
        cv2.putText(img, str(r), (3, (y0 + y1) // 2 + 4), font, fscale, YELLOW, thick, cv2.LINE_AA)
    cv2.putText(img, label, (6, sh - 8), font, fscale * 1.3, YELLOW, thick + 1, cv2.LINE_AA)
    return img


def encode_jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """RGB uint8 (H, W, 3) -> JPEG bytes."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding of an annotated frame failed")
    return buf.tobytes()
