"""Which multidiffusion window lengths (in frames) the CogVideoX 1.5 transformer can take.

A window of F frames is (F - 1) / 4 + 1 latent frames (4x temporal compression), and the transformer
folds latent frames in pairs (``patch_size_t = 2``), so F - 1 must be a multiple of 4 and the latent
count even: F = 5 (mod 8). The window must also be longer than the 4-latent overlap of two windows,
so the shortest is 21 frames. 81, 49 or 25 frames would give an odd latent window that fails deep
inside the model; VOID itself uses 85.

Plain integers, no torch: the engine config checks ``[worker] window_frames`` at load time with it,
and the pipeline checks its ``window_frames`` argument with the same rule.
"""

from __future__ import annotations

TEMPORAL_COMPRESSION = 4
PATCH_SIZE_T = 2
OVERLAP_LATENTS = 4  # latent frames two neighbouring windows share (the reference's stride of 16 frames)


def _shortest(patch_size_t: int) -> int:
    return TEMPORAL_COMPRESSION * (OVERLAP_LATENTS + patch_size_t) - (TEMPORAL_COMPRESSION - 1)


def is_valid_window(window_frames: int, patch_size_t: int = PATCH_SIZE_T) -> bool:
    """Whether a window of `window_frames` frames gives a latent count the transformer can fold."""
    return (
        isinstance(window_frames, int)
        and not isinstance(window_frames, bool)
        and window_frames >= _shortest(patch_size_t)
        and (window_frames - 1) % TEMPORAL_COMPRESSION == 0
        and ((window_frames - 1) // TEMPORAL_COMPRESSION + 1) % patch_size_t == 0
    )


def valid_window_frames(limit: int = 200, patch_size_t: int = PATCH_SIZE_T) -> list[int]:
    """Every valid window length up to `limit` frames, shortest first (21, 29, ... 85 ... 197)."""
    return [f for f in range(1, limit + 1) if is_valid_window(f, patch_size_t)]


def window_frames_problem(window_frames: int, patch_size_t: int = PATCH_SIZE_T) -> str | None:
    """Why `window_frames` cannot be a window length (a message naming valid values), or None if it can."""
    if is_valid_window(window_frames, patch_size_t):
        return None
    step = TEMPORAL_COMPRESSION * patch_size_t
    shortest = _shortest(patch_size_t)
    examples = ", ".join(str(f) for f in valid_window_frames(100, patch_size_t))
    return (
        f"window_frames={window_frames!r} is not a valid window length: use {examples}, ... frames "
        f"({shortest} or more, {shortest % step} more than a multiple of {step}; VOID uses 85), so that the "
        f"window's latent frame count (frames - 1) / {TEMPORAL_COMPRESSION} + 1 is a multiple of {patch_size_t}"
    )
