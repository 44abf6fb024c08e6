"""Screenshots of the monitor page for the README: `python -m tests.monitor.make_screenshots docs/`.

Starts a real engine with its monitor, turns the two real shots in /work/shared/footage (or
$VOID_FOOTAGE) into scene-linear EXR plates and quadmasks, and gives it a studio's afternoon: done
jobs (the "preview" backend's real inpaint), one failed, one cancelled, one running, two queued,
from three artists. Then saves the jobs page (monitor.png) and a finished job's page
(monitor_job.png) from headless chromium.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bridge.client import EngineClient
from bridge.protocol import JobSpec
from tests.engine.engine_harness import EngineProcess, free_port, wait_until, write_config

from .browser import browser_problem, headless_chrome
from .monitor_helpers import ADMIN, http

FOOTAGE = Path(os.environ.get("VOID_FOOTAGE", "/work/shared/footage"))


def footage_to_exr(video: Path, quadmask: Path, out: Path, name: str, frames: int, width: int) -> tuple[str, str]:
    """``frames`` frames of an sRGB mp4 as half-float ACEScg EXRs from 1001, and its quadmask as level/255."""
    import cv2

    from void_engine.levels import snap_quadmask
    from void_engine.plates.colour import ColourConverter
    from void_engine.plates.exr import Plate, PlateSpec, Window, write_plate

    colour = ColourConverter()
    (out / "plate").mkdir(parents=True, exist_ok=True)
    (out / "mask").mkdir(parents=True, exist_ok=True)
    pics, masks = cv2.VideoCapture(str(video)), cv2.VideoCapture(str(quadmask))
    for i in range(frames):
        ok, bgr = pics.read()
        ok2, mask = masks.read()
        if not (ok and ok2):
            raise RuntimeError(f"{video}: frame {i} cannot be read")
        h = round(bgr.shape[0] * width / bgr.shape[1]) // 2 * 2
        rgb = cv2.resize(bgr, (width, h), interpolation=cv2.INTER_AREA)[..., ::-1].astype(np.float32) / 255
        level = snap_quadmask(cv2.resize(mask[..., 1], (width, h), interpolation=cv2.INTER_NEAREST))
        win = Window(0, 0, width, h)
        write_plate(
            out / "plate" / f"{name}.{1001 + i}.exr",
            Plate(colour.from_model(rgb), PlateSpec(win, win, ("R", "G", "B"), ("half",) * 3)),
        )
        write_plate(
            out / "mask" / f"{name}_quadmask.{1001 + i}.exr",
            Plate((level[..., None] / 255).astype(np.float32), PlateSpec(win, win, ("Y",), ("half",))),
        )
    return str(out / "plate" / f"{name}.####.exr"), str(out / "mask" / f"{name}_quadmask.####.exr")


def main(docs: Path) -> int:
    problem = browser_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="void-monitor-shots-"))
    shots = work / "shots"
    pillow = footage_to_exr(
        FOOTAGE / "pillow/input_video.mp4", FOOTAGE / "pillow/quadmask_0.mp4", shots / "pillow", "pillow", 12, 960
    )
    bigben = footage_to_exr(
        FOOTAGE / "BigBen/input_video.mp4", FOOTAGE / "BigBen/trimask_quadmask.mp4", shots / "bigben", "bigben", 12, 544
    )
    doomed = footage_to_exr(
        FOOTAGE / "BigBen/input_video.mp4", FOOTAGE / "BigBen/trimask_quadmask.mp4", shots / "doomed", "bb_alt", 6, 544
    )
    out = work / "out"
    out.mkdir()
    port = free_port()
    cfg = write_config(
        work / "engine.toml",
        {
            "server": {
                "bind": "tcp://127.0.0.1:*",
                "state_dir": str(work / "state"),
                "roots": [str(shots), str(out)],
                "plugins": ["engine_test_backends"],
            },
            "worker": {"backend": "preview", "steps": 50},
            "security": {"admin_token": ADMIN},
            "monitor": {
                "monitor_enabled": True,
                "monitor_port": port,
                "monitor_refresh_s": 0.5,
                "monitor_strip_frames": 6,
            },
        },
    )
    engine = EngineProcess(cfg, step_s=0.4).start()
    url = f"http://127.0.0.1:{port}"
    artists = {name: EngineClient(engine.endpoint, token=f"{name}-workstation-token") for name in ("ana", "ben", "kai")}
    try:

        def spec(plate_mask: tuple[str, str], frames: int, prompt: str, **kw) -> JobSpec:
            return JobSpec(
                plate=plate_mask[0],
                frames=tuple(range(1001, 1001 + frames)),
                prompt=prompt,
                out=str(out / Path(plate_mask[0]).parent.parent.name),
                quadmask=plate_mask[1],
                **kw,
            )

        done = artists["ana"].submit(spec(pillow, 12, "Two pillows placed on the table.", backend="preview"))
        artists["ben"].submit(spec(bigben, 12, "buildings reflecting on a calm river", backend="preview"))
        artists["ana"].wait(done)
        cancelled = artists["kai"].submit(spec(bigben, 8, "a calm river", backend="echo", name="bigben_v2"))
        wait_until(lambda: artists["kai"].status(cancelled).state == "running", 20)
        artists["kai"].cancel(cancelled)
        failing = artists["ben"].submit(spec(doomed, 6, "an empty river bank", backend="echo"))
        running = artists["ana"].submit(spec(pillow, 12, "the pillows, nothing on them", backend="echo"))
        for seed in (1, 2):
            artists["kai"].submit(
                replace(spec(bigben, 12, "buildings reflecting on a calm river", backend="echo"), seed=seed)
            )
        os.remove(doomed[0].replace("####", "1004"))  # the failing job loses a plate frame while queued
        wait_until(lambda: artists["ben"].status(failing).state == "failed", 60)
        wait_until(lambda: http(f"{url}/api/jobs/{running}").json()["job"]["progress"] > 0.45, 60)
        browser = headless_chrome(1480, 600)
        try:
            browser.get(url + "/")
            # The wrangler's view: unlocked with the admin token, so cancel and retry show.
            browser.find_element("id", "admin-token").send_keys(ADMIN)
            browser.find_element("id", "admin-unlock").click()
            time.sleep(2)
            browser.save_screenshot(str(docs / "monitor.png"))
            browser.set_window_size(1480, 980)
            browser.get(f"{url}/jobs/{done}")
            # Every thumbnail of the three strips decoded (the engine makes them on first request).
            wait_until(
                lambda: (
                    browser.execute_script(
                        "return [...document.querySelectorAll('.strip img')].filter(i => i.complete && i.naturalWidth)"
                        ".length"
                    )
                    == 3 * 6
                ),
                60,
            )
            time.sleep(1)
            browser.save_screenshot(str(docs / "monitor_job.png"))
        finally:
            browser.quit()
    finally:
        for c in artists.values():
            c.close()
        engine.kill()
    print(f"wrote {docs / 'monitor.png'} and {docs / 'monitor_job.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
