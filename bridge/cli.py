"""`void-bridge`: submit, follow, cancel and fetch engine jobs from a shell (or a farm script).

    void-bridge --engine tcp://host:5555 submit --plate shot.####.exr --frames 1001-1096 \\
        --remove roto.####.exr --prompt "empty street" --out /shots/void --wait
    void-bridge --engine tcp://host:5555 submit --plate shot.####.exr --frames 1001-1096 \\
        --roto roto.####.exr --roto-frames 1001,1040 --instruction "the man and his shadow" --pass2
    void-bridge --engine ADDR status|cancel|fetch JOB

`submit --wait` shows progress and ends with a line whose last word is the output pattern;
its exit status is 0 only when the job is done. Imports no torch/numpy.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from .protocol import (
    DONE,
    MASK_PROPAGATE,
    MASK_REASON,
    ClickPoint,
    Event,
    JobMasks,
    JobSpec,
    ProtocolError,
)
from .sequences import parse_frame_list

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


# ---------------------------------------------------------------------------------------------
# Job flags shared with `void-engine run`


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that describe one job (the same for `void-engine run` and `void-bridge submit`)."""
    parser.add_argument("--plate", required=True, help="plate sequence pattern, e.g. /shots/a/plate.####.exr")
    parser.add_argument("--frames", required=True, help="frame range, e.g. 1001-1096 or 1,3,5-9")
    mask = parser.add_mutually_exclusive_group()
    mask.add_argument("--quadmask", help="quadmask sequence pattern (levels 0/63/127/255)")
    mask.add_argument("--remove", help="matte sequence pattern of what to remove")
    mask.add_argument(
        "--roto",
        help="roto matte pattern rendered on the key frames only; the engine "
        "propagates it over the range with SAM2 (needs --roto-frames)",
    )
    parser.add_argument("--affected", help="matte sequence pattern of what it affected (shadows...); needs --remove")
    parser.add_argument("--roto-frames", help="the roto's key frames, e.g. 1001 or 1001,1040")
    parser.add_argument(
        "--points",
        action="append",
        metavar="F:X,Y[:L];...",
        help="click points to propagate from: frame:x,y in display-window pixels, label 1 "
        "(object, default) or 0 (not the object); ';'-separated or repeated",
    )
    parser.add_argument(
        "--instruction",
        help="what to remove, in words, for the engine's reasoner (finds "
        "shadows, reflections...); with --roto/--points or --remove",
    )
    parser.add_argument("--pass2", action="store_true", help="run VOID's refinement pass after the first")
    parser.add_argument("--prompt", required=True, help="what the background should be, e.g. 'empty street'")
    parser.add_argument("--out", help="output folder; results go to OUT/v###/")
    parser.add_argument("--backend", help="void or preview (default: the engine's)")
    parser.add_argument(
        "--model", type=Path, help="model folder (run: required for void; submit: the engine's own is used)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the engine's)")
    parser.add_argument("--name", help="output file base name (default: <plate>_void)")


def parse_points(texts: list[str] | None) -> tuple[ClickPoint, ...]:
    """Click points from ``--points`` values like ``1001:120,80;1001:40,20:0``; ValueError names the bad one."""
    points = []
    for text in texts or []:
        for part in filter(None, (p.strip() for p in text.split(";"))):
            bits = part.split(":")
            try:
                if len(bits) not in (2, 3):
                    raise ValueError
                x, y = (float(v) for v in bits[1].split(","))
                label = int(bits[2]) if len(bits) == 3 else 1
                if label not in (0, 1) or x < 0 or y < 0:
                    raise ValueError
                points.append(ClickPoint(int(bits[0]), x, y, label))
            except ValueError:
                raise ValueError(
                    f"--points: cannot read {part!r} (expected FRAME:X,Y or FRAME:X,Y:LABEL with label 1 or 0)"
                ) from None
    return tuple(points)


def masks_from_args(args: argparse.Namespace) -> JobMasks | None:
    """The ``masks`` map for the new mask modes; None when the flags say (a)/(b) the old way.

    Plain --quadmask / --remove [--affected] jobs keep the older top-level fields, so they still
    run on engines that predate ``job.masks``.
    """
    points = parse_points(getattr(args, "points", None))
    roto, roto_frames = getattr(args, "roto", None), getattr(args, "roto_frames", None)
    instruction = (getattr(args, "instruction", None) or "").strip() or None
    if roto_frames and not roto:
        raise ValueError("--roto-frames needs --roto")
    if roto and not roto_frames:
        raise ValueError("--roto needs --roto-frames (the frames the roto was drawn on)")
    if points and (args.quadmask or args.remove):
        raise ValueError("--points go with --roto (or alone), not with --quadmask/--remove")
    if getattr(args, "instruction", None) is not None and not instruction:
        raise ValueError("--instruction is empty")
    if instruction and args.quadmask:
        raise ValueError("--instruction needs --roto/--points or --remove to reason from, not a finished --quadmask")
    if not (roto or points or instruction):
        return None
    keyframes: tuple[int, ...] = ()
    if roto_frames:
        try:
            keyframes = tuple(parse_frame_list(roto_frames))
        except ValueError as exc:
            raise ValueError(f"--roto-frames: {exc}") from None
    mode = MASK_REASON if instruction else MASK_PROPAGATE
    return JobMasks(
        mode=mode,
        remove=_abs(args.remove),
        affected=_abs(args.affected),
        roto=_abs(roto),
        keyframes=keyframes,
        points=points,
        instruction=instruction,
    )


def spec_from_args(args: argparse.Namespace, *, need_out: bool = True) -> JobSpec:
    """A JobSpec from job flags; raises ValueError naming the flag at fault."""
    if args.affected and not args.remove:
        raise ValueError("--affected needs --remove")
    if not (args.quadmask or args.remove or getattr(args, "roto", None) or getattr(args, "points", None)):
        raise ValueError("give the mask: one of --quadmask, --remove, --roto (with --roto-frames) or --points")
    if need_out and not args.out:
        raise ValueError("--out is required")
    try:
        frames = parse_frame_list(args.frames)
    except ValueError as exc:
        raise ValueError(f"--frames: {exc}") from None
    if args.steps is not None and args.steps < 1:
        raise ValueError("--steps must be >= 1")
    if args.seed < 0:
        raise ValueError("--seed must be >= 0")
    masks = masks_from_args(args)
    if masks is not None:
        outside = [f for f in masks.keyframes + tuple(p.frame for p in masks.points) if f not in set(frames)]
        if outside:
            raise ValueError(f"--roto-frames/--points: frame {outside[0]} is outside --frames {args.frames}")
    legacy = masks is None
    return JobSpec(
        plate=os.path.abspath(args.plate),
        frames=tuple(frames),
        prompt=args.prompt,
        out=_abs(args.out) if args.out else None,
        quadmask=_abs(args.quadmask) if legacy else None,
        remove=_abs(args.remove) if legacy else None,
        affected=_abs(args.affected) if legacy else None,
        backend=args.backend,
        seed=args.seed,
        steps=args.steps,
        name=args.name,
        job_key=getattr(args, "job_key", None),
        priority=getattr(args, "priority", 0) or 0,
        masks=masks,
        pass2=bool(getattr(args, "pass2", False)),
    )


def _abs(p: str | None) -> str | None:
    return None if p is None else os.path.abspath(p)


class ProgressBar:
    """A one-line text progress bar (redrawn in place on a terminal, one line per change otherwise)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30):
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last = ""

    def update(self, stage: str, done: int, total: int, extra: str = "") -> None:
        frac = (done / total) if total else 0.0
        filled = int(round(frac * self.width))
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {stage:<7} {done}/{total}{(' ' + extra) if extra else ''}"
        )
        if line == self._last:
            return
        self._last = line
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def event(self, ev: Event) -> None:
        if ev.kind == "step":
            self.update("model", ev.step or 0, ev.total or 0, f"(window {ev.window})")
        elif ev.kind == "stage" and ev.stage:
            self.update(ev.stage, ev.step or 0, ev.total or 0)
        elif ev.kind == "log" and ev.message:  # e.g. "reasoning skipped: no Gemini API key ..."
            self.finish()
            self.stream.write(f"{ev.message}\n")
            self.stream.flush()
        elif ev.kind == "state":
            self.finish()
            self.stream.write(f"job {ev.job}: {ev.state}{(' - ' + ev.message) if ev.message else ''}\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._last:
            self.stream.write("\n")
            self.stream.flush()
        self._last = ""


# ---------------------------------------------------------------------------------------------
# void-bridge


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="void-bridge", description="Talk to a VOID engine: submit, status, cancel, fetch.")
    p.add_argument(
        "--engine",
        default=os.environ.get("VOID_ENGINE", "tcp://127.0.0.1:5555"),
        help="engine address (default $VOID_ENGINE or tcp://127.0.0.1:5555)",
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply (default 10)")
    p.add_argument(
        "--token", default=None, help="client token (default: $VOID_BRIDGE_TOKEN or ~/.void-bridge/client_token)"
    )
    p.add_argument("--admin-token", default=os.environ.get("VOID_ADMIN_TOKEN"), help="admin secret (loopback engines)")
    p.add_argument("--server-key", type=Path, help="engine's public key file (enables CURVE)")
    p.add_argument("--client-key", type=Path, help="this client's secret key file (CURVE)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("submit", help="queue a job (prints its id)")
    add_job_arguments(s)
    s.add_argument("--by-value", action="store_true", help="send the frames' bytes (engine cannot see this storage)")
    s.add_argument("--job-key", help="idempotency key: resubmitting with it returns the same job")
    s.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    s.add_argument("--wait", action="store_true", help="follow progress until the job ends")
    s.add_argument("--fetch", type=Path, metavar="DIR", help="with --wait: copy the results into DIR by value")

    for name, text in (
        ("status", "show a job's state"),
        ("cancel", "cancel a job"),
        ("wait", "follow a job until it ends"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("job")
    f = sub.add_parser("fetch", help="print a done job's output pattern; with --to, copy its frames by value")
    f.add_argument("job")
    f.add_argument("--to", type=Path, metavar="DIR", help="folder to copy the frames into")
    ls = sub.add_parser("list", help="list your jobs")
    ls.add_argument("--all", action="store_true", help="every client's jobs (admin)")
    sub.add_parser("hello", help="show the engine's capabilities")
    sub.add_parser("ping", help="check the engine answers")
    sub.add_parser("shutdown", help="stop the engine (admin)")
    from . import install

    install.add_arguments(sub.add_parser("install", help="lay a host plugin out where Nuke or Resolve loads it"))
    return p


def _client(args: argparse.Namespace):
    from .client import EngineClient, default_token

    token = args.token or default_token()
    if args.server_key or args.client_key:
        if not (args.server_key and args.client_key):
            raise ValueError("CURVE needs both --server-key and --client-key")
        return EngineClient.from_key_files(
            args.engine,
            args.server_key,
            args.client_key,
            timeout=args.timeout,
            token=token,
            admin_token=args.admin_token,
        )
    return EngineClient(args.engine, timeout=args.timeout, token=token, admin_token=args.admin_token)


def _follow(client: Any, job: str, out: TextIO, fetch_to: Path | None = None) -> int:
    bar = ProgressBar(sys.stderr)
    status = client.wait(job, on_event=bar.event)
    bar.finish()
    if status.state != DONE:
        print(f"job {job} {status.state}{': ' + status.error if status.error else ''}", file=out)
        return EXIT_FAILED
    pattern = status.output or ""
    if fetch_to is not None:
        res = client.fetch(job, fetch_to)
        pattern = res.local_pattern or pattern
    print(f"job {job} done: {len(status.frames)} frames -> {pattern}", file=out, flush=True)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `void-bridge`; returns the exit status."""
    from .client import EngineUnavailable

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "install":  # local files only: no engine involved
        from . import install

        return install.run(args)
    out = sys.stdout
    try:
        with _client(args) as client:
            cmd = args.command
            if cmd == "submit":
                if args.fetch and not args.wait:
                    raise ValueError("--fetch copies the results once the job is done: it needs --wait")
                spec = spec_from_args(args, need_out=not args.by_value)
                if args.model:
                    print(
                        "void-bridge: --model is ignored by submit (the engine's resident model is used)",
                        file=sys.stderr,
                    )
                up_bar = ProgressBar(sys.stderr)
                job = client.submit(
                    spec,
                    by_value=args.by_value,
                    progress=lambda done, total: up_bar.update("upload", done >> 20, total >> 20, "MiB"),
                )
                up_bar.finish()
                print(job, file=out, flush=True)
                if not args.wait:
                    return EXIT_OK
                return _follow(client, job, out, args.fetch if args.fetch else None)
            if cmd == "wait":
                return _follow(client, args.job, out)
            if cmd == "status":
                st = client.status(args.job)
                line = f"{st.job} {st.state}"
                if st.error:
                    line += f" ({st.error})"
                if st.output:
                    line += f" {st.output}"
                print(line, file=out)
                return EXIT_OK
            if cmd == "cancel":
                state = client.cancel(args.job)
                print(f"{args.job} {state}{' (cancel requested)' if state == 'running' else ''}", file=out)
                return EXIT_OK
            if cmd == "fetch":
                res = client.fetch(args.job, args.to)
                print(f"{args.job} {len(res.frames)} frames {res.local_pattern or res.pattern}", file=out)
                return EXIT_OK
            if cmd == "list":
                for st in client.list(everyone=args.all):
                    print(f"{st.job} {st.state:<9} {st.output or st.error or ''}", file=out)
                return EXIT_OK
            if cmd == "hello":
                for k, v in client.hello().items():
                    if k not in ("v", "type", "id", "re"):
                        print(f"{k}: {v}", file=out)
                return EXIT_OK
            if cmd == "ping":
                print(f"pong {client.ping() * 1000:.1f} ms", file=out)
                return EXIT_OK
            if cmd == "shutdown":
                client.shutdown()
                print("engine stopping", file=out)
                return EXIT_OK
    except ProtocolError as err:
        print(f"void-bridge: {err.code}: {err.message}", file=sys.stderr)
        return EXIT_FAILED
    except EngineUnavailable as exc:
        print(f"void-bridge: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (ValueError, OSError) as exc:
        print(f"void-bridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
