"""Backends for transport tests, registered through the engine's own registry (a `plugins` module).

"echo" returns the model-space input unchanged, one progress step per denoising step, sleeping
VOID_TEST_STEP_S seconds per step so tests can catch a job while it runs. It exercises the
protocol, journal and plate round-trip without a model; the model itself is tested by the
"void" backend end-to-end test.
"""

from __future__ import annotations

import os
import time

from void_engine.backends import BackendSettings, Cancelled, register_backend


class EchoBackend:
    def __init__(self, settings: BackendSettings):
        self.step_s = float(os.environ.get("VOID_TEST_STEP_S", "0"))

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        for step in range(1, steps + 1):
            if cancel is not None and cancel():
                raise Cancelled("echo backend cancelled")
            time.sleep(self.step_s)
            if progress is not None:
                progress(0, step, steps)
        return video.copy()


register_backend("echo", EchoBackend)


class EchoPass2Backend(EchoBackend):
    """ "echo" with a pass 2 (echo again, from pass 1's result): lets plugin tests check that a job's
    pass 2 reaches the engine and runs, without the model."""

    @staticmethod
    def pass2_problem(settings: BackendSettings) -> str | None:
        return None

    def refine(self, video, quadmask, prompt, first_pass, *, seed, steps, progress, cancel):
        return self.run(first_pass, quadmask, prompt, seed=seed, steps=steps, progress=progress, cancel=cancel)


register_backend("echo-pass2", EchoPass2Backend)
