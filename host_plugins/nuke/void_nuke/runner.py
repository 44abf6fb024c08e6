"""One "Remove Object" job, start to finish, off Nuke's main thread.

:class:`RemoveJob` renders what needs rendering (one frame per main-thread hop, so the UI
breathes between frames), submits to the engine, follows its events into a
``nuke.ProgressTask``, cancels the engine job when the task's cancel is pressed, and finally
asks the main thread for a Read of the result. In a GUI session it runs in its own thread
(:meth:`RemoveJob.start`); under ``nuke -t`` it runs on the caller's thread (:meth:`RemoveJob.run`).
"""

from __future__ import annotations

import re
import shutil
import signal
import threading
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import nuke
from bridge.client import EngineClient, EngineUnavailable, default_token
from bridge.protocol import DONE, FAILED, JobSpec, ProtocolError
from bridge.versions import next_version, version_name

from . import nodes, ui
from .errors import SetupError, artist_message, failed_job_message
from .progress import ProgressView
from .settings import KEYFRAME_MODES, RemoveSettings, build_spec, check_affected, under_roots

INPUTS_FOLDER = ".void-inputs"


@dataclass(frozen=True)
class JobInputs:
    """The job's nodes by name (names cross threads; nodes are touched on the main thread only)."""

    plate: str
    remove: str
    affected: Optional[str]
    plate_pattern: Optional[str]  # a Read's own EXR sequence, used as it is
    plate_colorspace: str


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``done`` (with the result Read), ``failed`` (with the message shown) or ``cancelled``."""

    state: str
    job: Optional[str] = None
    read_node: Optional[str] = None
    output: Optional[str] = None
    message: Optional[str] = None


class _Cancelled(Exception):
    pass


class Interrupted(BaseException):
    """The process was told to stop (SIGINT/SIGTERM) while a job ran on its thread (``nuke -t``).

    Raised by :meth:`RemoveJob.run` after it asked the engine to cancel the job: ``job`` is the
    engine's job id (None when nothing was submitted yet) and ``cancelled`` whether the engine
    took the cancel. A BaseException, like KeyboardInterrupt, so that ``except Exception`` in a
    caller's script does not swallow it.
    """

    def __init__(self, signum: int, job: Optional[str] = None, cancelled: bool = False) -> None:
        super().__init__(signum, job, cancelled)
        self.signum = signum
        self.job = job
        self.cancelled = cancelled

    def describe(self) -> str:
        """One line for the terminal: which signal, and what became of the engine job."""
        try:
            name = signal.Signals(self.signum).name
        except ValueError:
            name = f"signal {self.signum}"
        if self.job is None:
            return f"interrupted ({name}) before the job reached the engine; nothing was submitted."
        if self.cancelled:
            return f"interrupted ({name}): job {self.job} cancelled on the engine."
        return f"interrupted ({name}): job {self.job} could not be cancelled; cancel it on the engine."


def next_version_dir(out_dir: Path) -> Path:
    """``out_dir/v###`` one past the highest existing version (for results fetched by value)."""
    return out_dir / version_name(next_version(out_dir))


class _Progress:
    """The job's progress bar (a ``nuke.ProgressTask``); with ``echo`` (``nuke -t``) each new line
    is printed too, as ``[ 45%] Removing object: step 3/8``."""

    def __init__(self, task: Any, echo: Optional[Callable[[str], None]]) -> None:
        self.task = task
        self.echo = echo
        self.percent = 0
        self._last = ""

    def message(self, text: str) -> None:
        self.task.setMessage(text)
        self._print(text)

    def progress(self, percent: int) -> None:
        self.percent = percent
        self.task.setProgress(percent)

    def cancelled(self) -> bool:
        return bool(self.task.isCancelled())

    def _print(self, text: str) -> None:
        line = f"[{self.percent:3d}%] {text}"
        if self.echo is not None and line != self._last:
            self._last = line
            self.echo(line)


def check_out_dir(out_dir: str, work: Path) -> None:
    """Make the job's working folder under ``out_dir``, or raise SetupError naming the folder and
    the OS reason (a read-only or missing share must stop the job before anything renders)."""
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SetupError(
            f"VOID can't write to the output folder {out_dir} ({reason}: {exc.filename or work}).\n"
            "Choose a folder you can write to."
        ) from None


class RemoveJob:
    """A job from panel settings and selected nodes to a result Read node.

    ``batch``: run for ``nuke -t`` (:mod:`void_nuke.batch`): progress lines are printed with
    ``echo``, messages name the command line's flags, and errors are left to the caller to print
    (``outcome.message``) instead of shown.
    """

    def __init__(
        self,
        settings: RemoveSettings,
        inputs: JobInputs,
        *,
        batch: bool = False,
        echo: Optional[Callable[[str], None]] = None,
    ):
        self.settings = settings.check()
        self.inputs = inputs
        self.batch = batch
        self.echo = echo
        self.key = uuid.uuid4().hex
        self.outcome: Optional[Outcome] = None
        self.finished = threading.Event()
        self.job_id: Optional[str] = None
        self.thread: Optional[threading.Thread] = None
        self._temp_writes: List[str] = []
        self._engine_done = False  # the engine no longer needs the rendered inputs

    # -- entry points -----------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a daemon thread (GUI sessions); returns at once."""
        self.thread = threading.Thread(target=self.run, name=f"void-remove-{self.key[:8]}", daemon=True)
        self.thread.start()
        return self.thread

    def run(self) -> Outcome:
        """Do the whole job on this thread; never raises but :class:`Interrupted` (the outcome says
        what happened). On SIGINT/KeyboardInterrupt (or an :class:`Interrupted` raised by a signal
        handler) the engine job is cancelled first."""
        progress = _Progress(nuke.ProgressTask("VOID: Remove Object"), self.echo)
        try:
            self.outcome = self._run(progress)
        except _Cancelled:
            self.outcome = Outcome("cancelled", self.job_id, message="Cancelled before the job reached the engine.")
        except (KeyboardInterrupt, Interrupted) as exc:
            signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
            cancelled = self._cancel_on_engine()
            self.outcome = Outcome("cancelled", self.job_id, message="Interrupted.")
            raise Interrupted(signum, self.job_id, cancelled) from None
        except (SetupError, EngineUnavailable, ProtocolError) as exc:
            self.outcome = self._fail(self._words(exc))
        except Exception as exc:  # a bug must still end with a message, not a silent thread
            traceback.print_exc()
            self.outcome = self._fail(self._words(exc))
        finally:
            self._cleanup()
            # Nuke closes the progress bar when the task object goes away: drop the last reference.
            del progress
            self.finished.set()
        return self.outcome

    # -- the steps --------------------------------------------------------------------------

    def _words(self, exc: BaseException) -> str:
        hint = "the address given with --engine (or $VOID_ENGINE)" if self.batch else "the address in the panel"
        return artist_message(exc, self.settings.engine, address_hint=hint)

    def _fail(self, text: str) -> Outcome:
        if not self.batch:
            ui.show_message(text)
        return Outcome("failed", self.job_id, message=text)

    def _client(self) -> EngineClient:
        return EngineClient(self.settings.engine, timeout=self.settings.timeout_s, token=default_token())

    def _run(self, progress: _Progress) -> Outcome:
        s = self.settings
        work = Path(s.out_dir) / INPUTS_FOLDER / self.key
        progress.message("Preparing inputs")
        check_affected(s, self.inputs.affected)  # before any rendering
        check_out_dir(s.out_dir, work)
        with self._client() as client:
            # The engine first: an engine that is down is said now, not after every frame rendered.
            progress.message(f"Connecting to the engine at {s.engine}")
            caps = client.hello()
            spec, inputs, colorspace = self._prepare(progress, work)
            by_value = self._by_value(caps, [p for p in (*inputs, s.out_dir) if p])
            if progress.cancelled():
                raise _Cancelled()
            progress.message("Sending frames to the engine" if by_value else "Submitting the job")
            self.job_id = job = client.submit(spec, by_value=by_value, progress=_upload_progress(progress))
            stop = threading.Event()
            watcher = threading.Thread(
                target=self._watch_cancel, args=(progress, job, stop), daemon=True, name=f"void-cancel-{job}"
            )
            watcher.start()
            view = ProgressView(job, pass2=s.pass2)
            try:
                for event in client.events(job, wait=1.0, give_up_after=max(30.0, 6 * s.timeout_s)):
                    shown = view.show(event)
                    if shown is not None:
                        progress.progress(shown[1])
                        progress.message(shown[0])
            finally:
                stop.set()
                watcher.join()
            status = client.status(job)
            self._engine_done = True
            if status.state == FAILED:
                return self._fail(failed_job_message(job, status.error))
            if status.state != DONE:
                return Outcome("cancelled", job, message=f"Job {job} was cancelled.")
            if by_value:
                progress.message("Fetching the result")
                fetched = client.fetch(job, dest=next_version_dir(Path(s.out_dir)))
                output, frames = fetched.local_pattern or fetched.pattern, fetched.frames
            else:
                fetched = client.fetch(job)
                output, frames = fetched.pattern, fetched.frames
        version = Path(output).parent.name
        label = f"VOID {version}: remove\n{_short(s.prompt)}\njob {job}"
        try:
            read = ui.call(nodes.create_result_read, self.inputs.plate, output, frames, colorspace, label)
        except Exception as exc:
            raise SetupError(
                f"Job {job} finished ({output}) but VOID could not make its Read node: {exc}\n"
                "Make a Read of that sequence by hand."
            ) from None
        progress.progress(100)
        progress.message("Done")
        return Outcome("done", job, read_node=read, output=output)

    def _prepare(self, progress: _Progress, work: Path) -> Tuple[JobSpec, Tuple[Optional[str], ...], str]:
        """Render what needs rendering (plate unless it is a Read of EXRs, mattes) and build the job;
        returns (job, its input patterns, the plate's colourspace)."""
        s = self.settings
        plate = self.inputs.plate_pattern
        colorspace = self.inputs.plate_colorspace
        if plate is None:
            plate, colorspace = self._render(progress, self.inputs.plate, work / "plate.####.exr", "rgba")
        if s.mask_mode in KEYFRAME_MODES:
            # Only the key frames: the engine propagates the roto over the range (mask mode c/d).
            remove, _ = self._render(
                progress,
                self.inputs.remove,
                work / "roto.####.exr",
                "alpha",
                frames=tuple(sorted(s.keyframes)),
                matte=True,
            )
        elif s.mask_mode == "quadmask":
            remove, _ = self._render(progress, self.inputs.remove, work / "remove.####.exr", "rgb")
        else:
            remove, _ = self._render(progress, self.inputs.remove, work / "remove.####.exr", "alpha", matte=True)
        affected = None
        if self.inputs.affected is not None:
            affected, _ = self._render(progress, self.inputs.affected, work / "affected.####.exr", "alpha", matte=True)
        self._drop_temp_writes()
        spec = build_spec(
            s,
            plate=plate,
            remove=remove,
            affected=affected,
            name=f"{ui.call(_plate_label, self.inputs.plate)}_void",
            job_key=self.key,
        )
        return spec, (plate, remove, affected), colorspace

    def _render(
        self,
        progress: _Progress,
        node: str,
        pattern: Path,
        channels: str,
        frames: Optional[Tuple[int, ...]] = None,
        matte: bool = False,
    ) -> Tuple[str, str]:
        """Render ``node`` to an EXR sequence over ``frames`` (default: the job's range); returns
        (pattern, colourspace). ``matte``: a Roto's shapes only, never its input's alpha.
        A failed frame raises SetupError with Nuke's own words (which name the Write and the reason)."""
        frames = self.settings.frames if frames is None else frames
        try:
            write = ui.call(nodes.make_temp_write, node, str(pattern), channels)
        except Exception as exc:
            raise SetupError(f"VOID could not set up the render of {node}: {exc}") from None
        self._temp_writes.append(write)
        for i, frame in enumerate(frames):
            if progress.cancelled():
                raise _Cancelled()
            progress.message(f"Rendering {node} {i + 1}/{len(frames)}")
            try:
                ui.call(nodes.render_frame, write, frame, node if matte else None)
            except Exception as exc:
                raise SetupError(f"Rendering frame {frame} of {node} failed: {exc}") from None
        return str(pattern), ui.call(nodes.write_colorspace, write)

    def _by_value(self, caps: dict, paths: List[str]) -> bool:
        mode = self.settings.transfer
        if mode != "auto":
            return mode == "value"
        return not (caps.get("by_path") and under_roots(paths, caps.get("roots") or []))

    def _watch_cancel(self, progress: _Progress, job: str, stop: threading.Event) -> None:
        """Poll the task's cancel button; a click cancels the job on the engine.

        Its own client: ZeroMQ sockets belong to one thread, and the events loop may be waiting.
        """
        while not stop.wait(0.1):
            if progress.cancelled():
                try:
                    with self._client() as client:
                        client.cancel(job)
                except (EngineUnavailable, ProtocolError) as exc:
                    ui.show_message(self._words(exc))
                return

    def _cancel_on_engine(self) -> bool:
        """Cancel the submitted job on the engine (its own client: the job's may be mid-request)."""
        if self.job_id is None or self._engine_done:
            return False
        try:
            with self._client() as client:
                client.cancel(self.job_id)
        except (EngineUnavailable, ProtocolError):
            return False
        self._engine_done = True  # a cancelled job reads no more inputs
        return True

    def _drop_temp_writes(self) -> None:
        while self._temp_writes:
            ui.call(nodes.delete_node, self._temp_writes.pop())

    def _cleanup(self) -> None:
        try:
            self._drop_temp_writes()
        except Exception:
            traceback.print_exc()
        if self.job_id is None or self._engine_done:
            # A job we lost track of (engine unreachable mid-job) may still read its inputs: keep them.
            shutil.rmtree(Path(self.settings.out_dir) / INPUTS_FOLDER / self.key, ignore_errors=True)


def _plate_label(name: str) -> str:
    """The plate's file name stem for a Read (``sh010_plate``), else the node's name."""
    node = nuke.toNode(name)
    if node is not None and node.Class() == "Read":
        base = Path(str(node["file"].value())).name
        stem = re.split(r"[.#%@$]", base, maxsplit=1)[0].rstrip("_")
        if stem:
            return stem
    return name


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _upload_progress(progress: _Progress) -> Any:
    def report(done: int, total: int) -> None:
        progress.message(f"Sending frames {done * 100 // max(1, total)}%")

    return report
