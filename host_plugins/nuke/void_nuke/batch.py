"""Remove Object from a script, for ``nuke -t`` (no GUI) and farm jobs.

    nuke -t /path/to/void/void_nuke/batch.py --script comp.nk --plate Read1 --remove Roto1 \\
        --prompt "empty street" --frames 1001-1096 --save

The plugin folder must be on NUKE_PATH (or added with ``nuke.pluginAddPath`` in init.py) so that
``void_nuke`` and the bundled ``bridge`` import. Prints one line per progress change, and, last,
a line ending with the result sequence; ``--save`` saves the script with the result's Read in it.
Exits 0 only when the job is done: 2 for bad arguments or nodes, 1 for a failed or cancelled job,
128 + the signal's number when SIGINT/SIGTERM stopped it (the engine job is cancelled first).
Every error is one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, List, Optional

import nuke
from bridge.sequences import parse_frame_list
from void_nuke.action import remove_object_batch
from void_nuke.errors import SetupError
from void_nuke.runner import Interrupted
from void_nuke.settings import MASK_MODES, TRANSFERS


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nuke -t void_nuke/batch.py", description="VOID: remove an object (batch)")
    p.add_argument("--script", help="the .nk script to open first")
    p.add_argument("--save", action="store_true", help="save the script (--script) with the result's Read in it")
    p.add_argument("--plate", required=True, help="name of the plate node (a Read or any node)")
    p.add_argument("--remove", required=True, help="name of the matte node covering the object")
    p.add_argument("--affected", help="name of the matte node covering its shadows/reflections")
    p.add_argument("--prompt", required=True, help="the clean background, in words")
    p.add_argument("--frames", help="frame range, e.g. 1001-1096 (default: the plate's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="denoising steps (0: the engine's preset)")
    p.add_argument("--pass2", action="store_true")
    p.add_argument("--mask-mode", choices=MASK_MODES, default="mattes")
    p.add_argument(
        "--keyframes", help="propagate/reason: frames the roto is drawn on, e.g. 1001,1040 (default: the first frame)"
    )
    p.add_argument("--instruction", default="", help="reason: what to remove, in words")
    p.add_argument("--engine", help="engine address (default $VOID_ENGINE or tcp://127.0.0.1:5555)")
    p.add_argument("--transfer", choices=TRANSFERS, default="auto")
    p.add_argument("--out", help="output folder (default: beside the plate, else beside the script)")
    return p.parse_args(argv)


def _stop(signum: int, frame: Any) -> None:
    # The first signal stops the job; more (a second Ctrl-C, a farm's repeated TERM) must not
    # break off the cancel it triggers. main() puts the previous handlers back.
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


def _say(line: str) -> None:
    print(f"VOID: {line}", flush=True)


def _error(text: str) -> None:
    print("VOID: " + " ".join(text.split()), file=sys.stderr, flush=True)


def open_script(path: str) -> None:
    """``nuke.scriptOpen``, or SetupError naming the file (Nuke raises a bare RuntimeError)."""
    if not os.path.isfile(path):
        raise SetupError(f"--script {path}: no such file")
    try:
        nuke.scriptOpen(path)
    except RuntimeError as exc:
        raise SetupError(f"--script {path}: Nuke could not open it ({exc})") from None


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    first = last = None
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            if args.save and not args.script:
                raise SetupError("--save saves the script given with --script; give --script too")
            if args.frames:
                frames = parse_frame_list(args.frames)
                if frames != list(range(frames[0], frames[-1] + 1)):
                    raise SetupError(f"--frames {args.frames}: give one continuous range, e.g. 1001-1096")
                first, last = frames[0], frames[-1]
            if args.script:
                open_script(args.script)
            outcome = remove_object_batch(
                args.plate,
                args.remove,
                args.prompt,
                affected=args.affected,
                first=first,
                last=last,
                out_dir=args.out,
                seed=args.seed,
                steps=args.steps,
                pass2=args.pass2,
                mask_mode=args.mask_mode,
                engine=args.engine,
                transfer=args.transfer,
                keyframes=tuple(parse_frame_list(args.keyframes)) if args.keyframes else None,
                instruction=args.instruction,
                echo=_say,
            )
        except (SetupError, ValueError) as exc:
            _error(str(exc))
            return 2
        if outcome.state != "done":
            _error(f"job {outcome.job or '-'} {outcome.state}: {outcome.message or ''}")
            return 1
        if args.save:
            try:
                nuke.scriptSave(args.script)
            except RuntimeError as exc:
                _error(f"job {outcome.job} done ({outcome.output}) but {args.script} could not be saved: {exc}")
                return 1
            _say(f"saved {args.script} with Read node {outcome.read_node}")
    except Interrupted as exc:
        _error(exc.describe())
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print(f"VOID: job {outcome.job} done, Read node {outcome.read_node}: {outcome.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
