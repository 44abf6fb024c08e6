"""Remove Object from a script, for ``nuke -t`` (no GUI) and farm jobs.

    nuke -t /path/to/void/void_nuke/batch.py --script comp.nk --plate Read1 --remove Roto1 \\
        --prompt "empty street" --frames 1001-1096

The plugin folder must be on NUKE_PATH (or added with ``nuke.pluginAddPath`` in init.py) so that
``void_nuke`` and the bundled ``bridge`` import. Prints progress and, last, a line ending with the
result sequence; exits 0 only when the job is done.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import nuke
from bridge.sequences import parse_frame_list
from void_nuke.action import remove_object_batch
from void_nuke.errors import SetupError
from void_nuke.settings import MASK_MODES, TRANSFERS


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="nuke -t void_nuke/batch.py", description="VOID: remove an object (batch)")
    p.add_argument("--script", help="the .nk script to open first")
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
    p.add_argument("--out", help="output folder (default: beside the plate)")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    first = last = None
    try:
        if args.frames:
            frames = parse_frame_list(args.frames)
            if frames != list(range(frames[0], frames[-1] + 1)):
                raise SetupError(f"--frames {args.frames}: give one continuous range, e.g. 1001-1096")
            first, last = frames[0], frames[-1]
        if args.script:
            nuke.scriptOpen(args.script)
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
        )
    except (SetupError, ValueError) as exc:
        print(f"VOID: {exc}", file=sys.stderr)
        return 2
    if outcome.state != "done":
        print(f"VOID: job {outcome.job or '-'} {outcome.state}: {outcome.message or ''}", file=sys.stderr)
        return 1
    print(f"VOID: job {outcome.job} done, Read node {outcome.read_node}: {outcome.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
