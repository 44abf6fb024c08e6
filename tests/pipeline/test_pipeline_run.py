"""The whole tiny pipeline: output contract, seeds, progress, cancel, input errors, memory modes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from void_engine.pipeline import Cancelled, VoidPipeline
from void_engine.pipeline.conditioning import add_masked_video_noise

from .tiny_clip import FRAMES, PROMPT, WINDOW, make_clip


def _run(pipe, video, quadmask, **kwargs):
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("num_inference_steps", 2)
    kwargs.setdefault("window_frames", WINDOW)
    return pipe(video, quadmask, PROMPT, **kwargs)


@pytest.fixture(scope="module")
def seed7_run(tiny_pipe):
    """One seeded run shared by the tests below: (video, quadmask, output, CPU seconds)."""
    video, quadmask = make_clip()
    started = time.process_time()  # CPU seconds: other work on a shared machine does not count
    out = _run(tiny_pipe, video, quadmask, seed=7)
    return video, quadmask, out, time.process_time() - started


def test_whole_tiny_pipeline_runs_in_seconds(seed7_run):
    video, _, out, cpu_seconds = seed7_run
    assert cpu_seconds < 20
    assert out.shape == video.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.isfinite(out).all()


def test_same_seed_gives_identical_output_and_another_seed_differs(tiny_pipe, seed7_run):
    video, quadmask, first, _ = seed7_run
    torch.manual_seed(99)
    expected_global = torch.rand(3)
    torch.manual_seed(99)
    again = _run(tiny_pipe, video, quadmask, seed=7)
    assert torch.equal(torch.rand(3), expected_global)  # seeding leaves the global RNG alone
    other = _run(tiny_pipe, video, quadmask, seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_masked_video_noise_is_what_the_reference_draws_from_the_seeded_global_rng():
    # Reference: a frame-major buffer viewed as (B, C, T, H, W), torch.manual_seed(seed), randn_like.
    video = (torch.rand(1, 5, 3, 16, 16) * 2 - 1).permute(0, 2, 1, 3, 4)
    video[:, :, :, :2] = -1.0
    torch.manual_seed(5)
    noise = torch.randn_like(video) * (torch.ones((1,)) * 0.0563)[:, None, None, None, None]
    expected = video + torch.where(video == -1, torch.zeros_like(video), noise)
    got = add_masked_video_noise(video, 5, 0.0563)
    assert torch.equal(got, expected)
    assert torch.equal(got[:, :, :, :2], video[:, :, :, :2])  # exactly-black pixels get no noise


def test_progress_reports_every_window_of_every_step(tiny_pipe):
    video, quadmask = make_clip(frames=37)  # 37 frames -> 10 latents -> windows [0,6) [2,8) [4,10)
    calls = []
    out = _run(tiny_pipe, video, quadmask, progress=lambda w, s, n: calls.append((w, s, n)))
    assert out.shape == video.shape
    assert calls == [(w, s, 2) for s in (1, 2) for w in range(3)]


def test_cancel_stops_within_one_step(tiny_pipe):
    video, quadmask = make_clip()
    passes = []
    handle = tiny_pipe.transformer.register_forward_pre_hook(lambda *_: passes.append(1))
    steps_done = []
    try:
        with pytest.raises(Cancelled):
            _run(
                tiny_pipe,
                video,
                quadmask,
                num_inference_steps=5,
                progress=lambda w, s, n: steps_done.append(s),
                cancel=lambda: bool(steps_done),
            )
    finally:
        handle.remove()
    assert steps_done == [1] and len(passes) == 1


def test_cancel_between_windows_of_a_long_clip(tiny_pipe):
    video, quadmask = make_clip(frames=37)
    passes = []
    handle = tiny_pipe.transformer.register_forward_pre_hook(lambda *_: passes.append(1))
    try:
        with pytest.raises(Cancelled):
            _run(tiny_pipe, video, quadmask, progress=lambda *a: None, cancel=lambda: len(passes) >= 1)
    finally:
        handle.remove()
    assert len(passes) == 1


def test_prompt_embeddings_cover_226_tokens_and_truncation_is_warned(tiny_pipe, caplog):
    embeds = tiny_pipe.encode_prompt("an empty room", None, False, torch.device("cpu"))
    assert embeds.shape == (1, 226, 32)
    assert not any("truncated" in r.message for r in caplog.records)
    with_cfg = tiny_pipe.encode_prompt("an empty room", "", True, torch.device("cpu"))
    assert with_cfg.shape == (2, 226, 32) and torch.equal(with_cfg[1:], embeds)  # [negative, prompt]
    tiny_pipe.encode_prompt("room " * 300, None, False, torch.device("cpu"))
    assert any("truncated" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda v, q: (v[:, :, :40], q[:, :, :40]), "multiples of 16"),
        (lambda v, q: (v, q.astype(np.float32)), "uint8"),
        (lambda v, q: (v, q[:-1]), "quadmask must be a uint8 array of shape"),
        (lambda v, q: (v.astype(np.float64), q), "float32"),
        (lambda v, q: (np.where(np.arange(FRAMES)[:, None, None, None] == 3, 1.5, v).astype(np.float32), q), "frame 3"),
    ],
)
def test_bad_inputs_are_named(tiny_pipe, change, message):
    video, quadmask = make_clip()
    video, quadmask = change(video, quadmask)
    with pytest.raises(ValueError, match=message):
        _run(tiny_pipe, video, quadmask)


def test_fp8_memory_mode_stores_transformer_weights_in_float8(tiny_model_dir):
    pipe = VoidPipeline.from_model_dir(tiny_model_dir, memory_mode="fp8", dtype=torch.float32)
    assert pipe.transformer.transformer_blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    video, quadmask = make_clip()
    out = _run(pipe, video, quadmask, num_inference_steps=1)
    assert out.shape == video.shape and np.isfinite(out).all()


def test_a_frame_larger_than_the_rotary_grid_is_refused_by_name(tiny_pipe):
    # The tiny transformer's sample_height/sample_width (60 x 90 latents) cover 480 x 720 pixels.
    video = np.zeros((FRAMES, 512, 720, 3), np.float32)
    quadmask = np.full((FRAMES, 512, 720), 255, np.uint8)
    with pytest.raises(ValueError, match="at most 480x720"):
        _run(tiny_pipe, video, quadmask)


def test_a_cancelled_run_still_frees_offloaded_models(tiny_pipe, monkeypatch):
    # With model offload, maybe_free_model_hooks moves every model back to the CPU; skipped on a
    # cancel, the transformer would stay on the GPU beside the next job's T5.
    freed = []
    monkeypatch.setattr(tiny_pipe, "maybe_free_model_hooks", lambda: freed.append(1))
    video, quadmask = make_clip()
    with pytest.raises(Cancelled):
        _run(tiny_pipe, video, quadmask, num_inference_steps=3, progress=lambda *_: None, cancel=lambda: True)
    assert freed == [1]
