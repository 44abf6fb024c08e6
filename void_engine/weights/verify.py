"""Per-file verdicts on a model directory, for `void-engine doctor` and `void-engine download`.

Reads only safetensors headers, small JSON files and file sizes -- never loads weights. Hashes are
recomputed only for files that changed on disk since the download recorded them (or on request).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .hashing import git_blob_sha1, sha256_file
from .layout import PATCH_EMBED_KEY, VOID_IN_CHANNELS, CheckpointLayout, checkpoint_layout, expected_shapes
from .lockfile import LockEntry, read_lock
from .manifest import BASE_TRANSFORMER, Component, Manifest, WeightFile, load_manifest
from .safetensors_header import HeaderError, SafetensorsHeader, read_header

STAGING_DIR = ".void-download"  # partial and not-yet-verified files, inside the model directory
PART_SUFFIX = ".part"


class FileState(str, Enum):
    PRESENT = "present"
    MISSING = "missing"
    INCOMPLETE = "incomplete"
    WRONG_SHAPE = "wrong shape"
    CORRUPT = "corrupt"
    NOT_NEEDED = "not needed"  # base transformer weights, when the VOID checkpoints hold the whole transformer


@dataclass(frozen=True)
class FileVerdict:
    """The state of one expected file. `path` is relative to the model directory."""

    path: str
    state: FileState
    detail: str
    required: bool = True

    @property
    def ok(self) -> bool:
        return self.state in (FileState.PRESENT, FileState.NOT_NEEDED)


def partial_path(model_dir: Path, rel: str) -> Path:
    """Where an unfinished download of `rel` is kept (resumed from there)."""
    return Path(model_dir) / STAGING_DIR / (rel + PART_SUFFIX)


def check_hash(path: Path, entry: LockEntry) -> bool:
    """Whether `path` has the hash recorded in `entry`."""
    if entry.sha256:
        return sha256_file(path) == entry.sha256
    if entry.git_sha1:
        return git_blob_sha1(path) == entry.git_sha1
    return True


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    exp = min(int(math.log(n, 1024)), 4)
    return f"{n / 1024**exp:.1f} {'BKMGT'[exp]}B".replace("BB", "B")


class _ShapeRules:
    """Expected shapes from the base transformer's config.json and safetensors headers (when present)."""

    def __init__(self, model_dir: Path, base: Component | None):
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.patch: int | None = None  # p * p * p_t
        self.inner: int | None = None
        self.base_in: int | None = None
        if base is None:
            return
        folder = model_dir / base.dest / BASE_TRANSFORMER
        try:
            config = json.loads((folder / "config.json").read_text())
            p, p_t = int(config.get("patch_size", 2)), int(config.get("patch_size_t") or 1)
            self.patch = p * p * p_t
            self.inner = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
            self.base_in = int(config["in_channels"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for shard in sorted(folder.glob("*.safetensors")):
            try:
                header = read_header(shard)
            except (OSError, HeaderError):
                continue
            self.shapes.update({name: t.shape for name, t in header.tensors.items()})

    def _patch_embed_problem(self, shape: tuple[int, ...], in_channels: int, exact: bool) -> str | None:
        if self.patch is None or self.inner is None:
            return None
        width = math.prod(shape[1:]) if len(shape) > 1 else 0
        want = (self.inner, in_channels * self.patch)
        if shape[:1] == want[:1] and width == want[1]:
            return None
        if not exact and shape[:1] == want[:1] and width >= 2 * 16 * self.patch:
            return None  # the loader keeps the first/last 16 channels of another input width
        return f"{PATCH_EMBED_KEY} is {shape}, expected ({want[0]}, {want[1]}) for {in_channels} input channels"

    def base_problem(self, header: SafetensorsHeader) -> str | None:
        weight = header.tensors.get(PATCH_EMBED_KEY)
        if weight is None or self.base_in is None:
            return None
        return self._patch_embed_problem(weight.shape, self.base_in, exact=True)

    def void_problem(self, header: SafetensorsHeader) -> str | None:
        if not self.shapes:
            return None  # no base transformer to compare with; the header itself was fine
        shared = [n for n in header.tensors if n in self.shapes]
        if not shared:
            example = next(iter(header.tensors), "<none>")
            return f"none of its {len(header.tensors)} tensors (e.g. {example!r}) belong to the base transformer"
        if PATCH_EMBED_KEY in header.tensors:
            problem = self._patch_embed_problem(header.tensors[PATCH_EMBED_KEY].shape, VOID_IN_CHANNELS, exact=False)
            if problem:
                return problem
        differ = [n for n in shared if n != PATCH_EMBED_KEY and header.tensors[n].shape != self.shapes[n]]
        if differ:
            name = differ[0]
            return (
                f"{len(differ)} tensor(s) differ from the base transformer, e.g. {name!r} is "
                f"{header.tensors[name].shape}, expected {self.shapes[name]}"
            )
        return None


def void_layout(model_dir: str | Path, files: list[WeightFile]) -> CheckpointLayout | None:
    """The layout of the VOID checkpoints among `files` that are on disk, from their headers and the base
    transformer's config.json: complete only if every one holds the whole transformer. None when the
    config or every checkpoint is missing or unreadable."""
    model_dir = Path(model_dir)
    config_file = next((wf for wf in files if wf.is_base_transformer_config), None)
    if config_file is None:
        return None
    try:
        expected = expected_shapes(json.loads((model_dir / config_file.rel).read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    layouts = []
    for wf in files:
        if not wf.is_void_checkpoint or not (model_dir / wf.rel).is_file():
            continue
        try:
            header = read_header(model_dir / wf.rel)
        except (OSError, HeaderError):
            continue
        layouts.append(checkpoint_layout(str(wf.rel), {n: t.shape for n, t in header.tensors.items()}, expected))
    if not layouts:
        return None
    delta = next((layout for layout in layouts if not layout.complete), None)
    return delta or CheckpointLayout(True, "; ".join(layout.detail for layout in layouts))


def _check_one(
    model_dir: Path,
    wf: WeightFile,
    entry: LockEntry | None,
    rules: _ShapeRules,
    verify: str,
    layout: CheckpointLayout | None = None,
) -> FileVerdict:
    rel = str(wf.rel)
    path = model_dir / wf.rel
    required = wf.required
    if wf.is_base_transformer_weights and layout is not None and layout.complete:
        state = "present but" if path.is_file() else "not downloaded:"
        return FileVerdict(rel, FileState.NOT_NEEDED, f"{state} not used ({layout.detail})", required)
    if not path.is_file():
        part = partial_path(model_dir, rel)
        if part.is_file():
            have = part.stat().st_size
            total = f" of {_size(entry.size)}" if entry else ""
            return FileVerdict(
                rel,
                FileState.INCOMPLETE,
                f"partial download {_size(have)}{total} in {STAGING_DIR}/ (run `void-engine download` again to resume)",
                required,
            )
        return FileVerdict(rel, FileState.MISSING, f"not found: {path}", required)
    size = path.stat().st_size
    if entry is not None and size != entry.size:
        state = FileState.INCOMPLETE if size < entry.size else FileState.CORRUPT
        return FileVerdict(rel, state, f"{_size(size)} on disk, the hub says {entry.size} bytes", required)
    if path.suffix == ".safetensors":
        try:
            header = read_header(path)
        except HeaderError as exc:
            state = FileState.INCOMPLETE if "truncated" in str(exc) or "too short" in str(exc) else FileState.CORRUPT
            return FileVerdict(rel, state, str(exc), required)
        if header.truncated:
            return FileVerdict(
                rel, FileState.INCOMPLETE, f"{size} of {header.expected_size} bytes (truncated download)", required
            )
        if wf.is_void_checkpoint:
            problem = rules.void_problem(header)
        else:
            problem = rules.base_problem(header) if wf.is_base_transformer_weights else None
        if problem:
            return FileVerdict(rel, FileState.WRONG_SHAPE, problem, required)
    elif path.suffix == ".json":
        try:
            json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return FileVerdict(rel, FileState.CORRUPT, f"not valid JSON: {exc}", required)
    if entry is not None:
        changed = path.stat().st_mtime_ns != entry.mtime_ns
        if verify == "always" or (verify == "changed" and changed):
            if not check_hash(path, entry):
                algo = "sha256" if entry.sha256 else "git sha1"
                return FileVerdict(
                    rel,
                    FileState.CORRUPT,
                    f"{algo} differs from the hub's ({entry.repo}@{entry.commit[:10]})",
                    required,
                )
            return FileVerdict(rel, FileState.PRESENT, f"{_size(size)}, hash verified", required)
        return FileVerdict(
            rel, FileState.PRESENT, f"{_size(size)}, as downloaded from {entry.repo}@{entry.commit[:10]}", required
        )
    return FileVerdict(
        rel, FileState.PRESENT, f"{_size(size)} (not downloaded by void-engine: no hash on record)", required
    )


def diagnose(
    model_dir: str | Path,
    manifest: Manifest | None = None,
    *,
    with_pass2: bool | None = None,
    sam2: str | None = None,
    verify: str = "changed",
) -> list[FileVerdict]:
    """One FileVerdict per file the model directory should hold.

    Expects the manifest's "always" components, plus pass 2 (optional; left out only when `with_pass2` is
    False) and SAM2 of size `sam2` (None: any SAM2 checkpoint that exists or was downloaded).
    `verify`: "never", "changed" (re-hash files modified since download; the default, cheap) or
    "always" (re-hash everything).
    """
    if verify not in ("never", "changed", "always"):
        raise ValueError(f"verify must be never, changed or always; got {verify!r}")
    model_dir = Path(model_dir)
    manifest = manifest or load_manifest()
    lock = read_lock(model_dir)
    chosen: list[Component] = []
    for comp in manifest.components:
        files = manifest.files([comp])
        exists = any(
            (model_dir / f.rel).exists() or str(f.rel) in lock or partial_path(model_dir, str(f.rel)).exists()
            for f in files
        )
        if comp.when == "always":
            chosen.append(comp)
        elif comp.when == "pass2" and with_pass2 is not False:
            chosen.append(comp)
        elif comp.when.startswith("sam2:") and (comp.when == f"sam2:{sam2}" or (sam2 is None and exists)):
            chosen.append(comp)
    base = next((c for c in manifest.components if c.name == "base"), None)
    rules = _ShapeRules(model_dir, base)
    files = manifest.files(chosen)
    layout = void_layout(model_dir, files)
    return [_check_one(model_dir, wf, lock.get(str(wf.rel)), rules, verify, layout) for wf in files]


def format_verdicts(verdicts: list[FileVerdict]) -> list[str]:
    """One aligned line per file: '<state>  <path>  <detail>' (optional files say so)."""
    width = max((len(v.path) for v in verdicts), default=0)
    lines = []
    for v in verdicts:
        state = v.state.value + ("" if v.required else " (optional)")
        lines.append(f"{state:<22} {v.path:<{width}}  {v.detail}")
    return lines


def summarize(model_dir: str | Path, verdicts: list[FileVerdict]) -> tuple[str, str]:
    """(status, detail) in doctor's vocabulary: "ok", "warn" (an optional file has a problem) or "FAIL"."""
    bad_required = [v for v in verdicts if v.required and not v.ok]
    # A missing optional file (pass 2, SAM2) is a choice; a damaged one is worth a warning.
    bad_optional = [v for v in verdicts if not v.required and not v.ok and v.state is not FileState.MISSING]
    if bad_required:
        counts: dict[str, int] = {}
        for v in bad_required:
            counts[v.state.value] = counts.get(v.state.value, 0) + 1
        what = ", ".join(f"{n} {s}" for s, n in counts.items())
        return "FAIL", f"{model_dir}: {what} of {len(verdicts)} files (run `void-engine download --dir {model_dir}`)"
    if bad_optional:
        return "warn", f"{model_dir}: required files complete; optional: " + ", ".join(
            f"{v.path} {v.state.value}" for v in bad_optional
        )
    absent = [v.path for v in verdicts if v.state is FileState.MISSING]
    return "ok", f"{model_dir}: all required files present" + (
        f" (not downloaded: {', '.join(absent)})" if absent else ""
    )
