"""The Gemini reasoner, through google-genai's real client, against a local fake server."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.fakes.gemini_server import FakeGemini
from void_engine.masks.grid import Grid
from void_engine.masks.reasoner import (
    Analysis,
    ReasonerAnswerError,
    ReasonerConfig,
    ReasonerError,
    ReasonerSkipped,
    ReasonerTimeout,
    analysis_to_mattes,
    ask,
    make_client,
    sample_indices,
    skip_reason,
)

T, H, W = 5, 64, 128  # an 8 x 16 grid of 8-px cells
FRAMES = [1001, 1002, 1003, 1004, 1005]
INSTRUCTION = "remove the man holding the cup, and his shadow"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def answer(**over):
    base = {
        "reasoning": "the man holds the cup up; his shadow falls to his right",
        "integral_belongings": [],
        "affected_objects": [
            {
                "noun": "shadow",
                "category": "visual_artifact",
                "why": "cast by him",
                "cells_now": [
                    {"frame": 1001, "cells": [{"row": 6, "col": 10}]},
                    {"frame": 1005, "cells": [{"row": 6, "col": 12}]},
                ],
                "will_move": False,
            },
            {
                "noun": "cup",
                "category": "physical",
                "why": "he holds it up",
                "cells_now": [{"frame": 1001, "cells": [{"row": 2, "col": 4}]}],
                "will_move": True,
                "cells_later": [{"frame": 1003, "cells": [{"row": 7, "col": 4}]}],
            },
        ],
        "scene_description": "an empty room",
    }
    base.update(over)
    return base


@pytest.fixture()
def fake():
    with FakeGemini() as f:
        yield f


@pytest.fixture()
def shot():
    frames = np.full((T, H, W, 3), 0.4, np.float32)
    remove = np.zeros((T, H, W), bool)
    remove[:, 16:48, 40:56] = True
    return frames, remove


def config(fake, **over):
    kw = dict(
        api_key="test-key",
        base_url=fake.base_url,
        model="gemini-test-pro",
        timeout_s=5.0,
        attempts=3,
        initial_delay_s=0.01,
        max_delay_s=0.05,
        samples=3,
    )
    kw.update(over)
    return ReasonerConfig(**kw)


def test_good_answer_is_parsed_and_request_carries_frames_grid_and_instruction(fake, shot):
    fake.reply_json(answer())
    analysis, grid, raw = ask(*shot, FRAMES, INSTRUCTION, config(fake))
    assert isinstance(analysis, Analysis)
    assert [o.noun for o in analysis.affected_objects] == ["shadow", "cup"]
    assert grid == Grid(8, 16, W, H) and '"shadow"' in raw

    assert len(fake.requests) == 1
    req = fake.requests[0]
    assert req.path.endswith("/models/gemini-test-pro:generateContent")
    assert req.headers["x-goog-api-key"] == "test-key"
    prompt = req.texts()[0]
    assert INSTRUCTION in prompt and "8 rows x 16 columns" in prompt
    assert "frames 1001, 1003, 1005" in prompt  # 3 samples, first and last included
    assert req.texts()[1:] == ["Frame 1001:", "Frame 1003:", "Frame 1005:"]
    images = req.images()
    assert [mime for mime, _ in images] == ["image/jpeg"] * 3
    assert all(data[:3] == b"\xff\xd8\xff" for _, data in images)  # real JPEGs
    gen = req.body["generationConfig"]
    assert gen["responseMimeType"] == "application/json"
    schema = gen.get("responseSchema") or gen.get("responseJsonSchema")
    assert {"integral_belongings", "affected_objects", "reasoning"} <= set(schema["properties"])


def test_remove_region_is_tinted_red_in_the_picture(fake, shot):
    import cv2

    fake.reply_json(answer())
    ask(*shot, FRAMES, INSTRUCTION, config(fake))
    data = fake.requests[0].images()[0][1]
    img = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)
    inside, outside = img[30, 46], img[30, 90]
    assert inside[0] - inside[1] > 40  # red over the object
    assert abs(outside[0] - outside[1]) < 15  # grey elsewhere


def test_malformed_answer_raises_with_the_raw_text(fake, shot):
    fake.reply_json({"affected_objects": [{"noun": "cup"}], "note": "I think the cup falls"})
    with pytest.raises(ReasonerAnswerError) as exc:
        ask(*shot, FRAMES, INSTRUCTION, config(fake))
    assert "I think the cup falls" in str(exc.value) and "integral_belongings" in str(exc.value)
    assert "I think the cup falls" in exc.value.raw


def test_non_json_answer_raises_with_the_raw_text(fake, shot):
    fake.reply_text("Sorry, I cannot help with that.")
    with pytest.raises(ReasonerAnswerError, match="Sorry, I cannot help"):
        ask(*shot, FRAMES, INSTRUCTION, config(fake))


def test_blocked_answer_names_the_finish_reason(fake, shot):
    fake.reply_text("", finish_reason="SAFETY")
    with pytest.raises(ReasonerAnswerError, match="no answer.*SAFETY"):
        ask(*shot, FRAMES, INSTRUCTION, config(fake))


def test_429_then_success_is_retried(fake, shot):
    fake.reply_error(429, "quota")
    fake.reply_error(503, "overloaded")
    fake.reply_json(answer())
    analysis, _, _ = ask(*shot, FRAMES, INSTRUCTION, config(fake))
    assert len(analysis.affected_objects) == 2
    assert len(fake.requests) == 3
    assert fake.requests[0].body == fake.requests[2].body  # the same request, resent


def test_errors_left_after_retries_name_the_status(fake, shot):
    for _ in range(2):
        fake.reply_error(500, "backend exploded")
    with pytest.raises(ReasonerError, match=r"after 2 attempt\(s\): HTTP 500.*backend exploded"):
        ask(*shot, FRAMES, INSTRUCTION, config(fake, attempts=2))
    assert len(fake.requests) == 2


def test_client_errors_are_not_retried(fake, shot):
    fake.reply_error(400, "bad schema")
    with pytest.raises(ReasonerError, match=r"\(not retryable\): HTTP 400.*bad schema"):
        ask(*shot, FRAMES, INSTRUCTION, config(fake))
    assert len(fake.requests) == 1


@pytest.mark.serial  # asserts a duration: run alone (tests/parallel.py)
def test_timeout_raises_reasoner_timeout(fake, shot):
    fake.reply_json(answer(), delay_s=2.0)
    start = time.monotonic()
    with pytest.raises(ReasonerTimeout, match="did not answer within 0.3 s"):
        ask(*shot, FRAMES, INSTRUCTION, config(fake, timeout_s=0.3, attempts=1))
    assert time.monotonic() - start < 1.5


def test_no_api_key_skips_with_a_clear_message(monkeypatch, shot):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    cfg = ReasonerConfig(base_url="http://127.0.0.1:9")
    assert "GEMINI_API_KEY" in skip_reason(cfg)
    with pytest.raises(ReasonerSkipped, match="no Gemini API key"):
        make_client(cfg)
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    assert skip_reason(cfg) is None


def test_sample_indices_spread_over_the_shot():
    assert sample_indices(10, 4) == [0, 3, 6, 9]
    assert sample_indices(2, 6) == [0, 1]
    assert sample_indices(1, 6) == [0]


def test_answer_cells_become_regions_between_and_beyond_samples():
    analysis = Analysis.model_validate(answer())
    grid = Grid(8, 16, W, H)
    m = analysis_to_mattes(analysis, grid, FRAMES)
    shadow_a = grid.cells_mask([(6, 10)])
    shadow_b = grid.cells_mask([(6, 12)])
    cup_now, cup_later = grid.cells_mask([(2, 4)]), grid.cells_mask([(7, 4)])
    cup = cup_now | cup_later  # one sample each: spread to every frame
    assert np.array_equal(m.affected[0], shadow_a | cup)  # a sampled frame: its own cells
    # between samples: both neighbours' cells (it moves somewhere in between)
    assert np.array_equal(m.affected[2], shadow_a | shadow_b | cup)
    assert np.array_equal(m.affected[4], shadow_b | cup)
    assert not m.remove_extra.any()


def test_belongings_add_to_the_remove_region():
    analysis = Analysis.model_validate(
        answer(
            affected_objects=[],
            integral_belongings=[
                {"noun": "backpack", "why": "worn", "cells": [{"frame": 1003, "cells": [{"row": 1, "col": 1}]}]}
            ],
        )
    )
    m = analysis_to_mattes(analysis, Grid(8, 16, W, H), FRAMES)
    assert m.remove_extra[:, 8:16, 8:16].all() and m.remove_extra.sum() == T * 64
    assert not m.affected.any()


def test_answer_placing_things_outside_the_shot_is_an_error():
    analysis = Analysis.model_validate(
        answer(
            affected_objects=[
                {
                    "noun": "ball",
                    "category": "physical",
                    "why": "kicked",
                    "will_move": False,
                    "cells_now": [{"frame": 2000, "cells": [{"row": 0, "col": 0}]}],
                }
            ]
        )
    )
    with pytest.raises(ReasonerAnswerError, match="'ball' on frame 2000, outside the shot"):
        analysis_to_mattes(analysis, Grid(8, 16, W, H), FRAMES)


def test_sam2_refinement_stays_within_the_reported_cells(shot):
    from void_engine.masks.propagate import Sam2Config, load_sam2

    frames, _ = shot
    analysis = Analysis.model_validate(answer())
    grid = Grid(8, 16, W, H)
    m = analysis_to_mattes(analysis, grid, FRAMES, frames=frames, sam2=load_sam2(Sam2Config.tiny()))
    allowed = grid.cells_mask([(2, 4)], pad_cells=1) | grid.cells_mask([(7, 4)])
    allowed |= grid.cells_mask([(6, 10), (6, 12)])
    assert m.affected.shape == (T, H, W)
    assert not (m.affected & ~allowed).any()
    assert m.affected.reshape(T, -1).any(axis=1).all()  # never empty where cells were given
