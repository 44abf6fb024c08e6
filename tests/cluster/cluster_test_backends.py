"""A backend for the cluster tests, registered through the engine's registry (a `plugins` module).

"sleepy" returns the model-space input unchanged, one progress step per denoising step, each step
taking VOID_CLUSTER_STEP_S seconds (default 0.1) so a test can catch a job while it runs on an
engine actor. A prompt containing "poison" makes the engine process die at step 1, as a CUDA
fault or an out-of-memory kill would: the actor dies, not just the job.
"""

from __future__ import annotations

import os
import time

from void_engine.backends import BackendSettings, Cancelled, register_backend


class SleepyBackend:
    def __init__(self, settings: BackendSettings):
        self.step_s = float(os.environ.get("VOID_CLUSTER_STEP_S", "0.1"))

    def run(self, video, quadmask, prompt, *, seed, steps, progress, cancel):
        for step in range(1, steps + 1):
            if cancel is not None and cancel():
                raise Cancelled("sleepy backend cancelled")
            if "poison" in prompt:
                os._exit(17)
            time.sleep(self.step_s)
            if progress is not None:
                progress(0, step, steps)
        return video.copy()


register_backend("sleepy", SleepyBackend)
