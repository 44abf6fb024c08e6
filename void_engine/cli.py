"""`void-engine` command line: a thin dispatcher.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, so
``void-engine --help`` stays fast and a broken optional part cannot break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (command, module, one-line help)
COMMANDS: list[tuple[str, str, str]] = [
    ("serve", "void_engine.commands.serve", "run the persistent engine (ZeroMQ server)"),
    ("run", "void_engine.commands.run", "run one job without a server"),
    ("doctor", "void_engine.commands.doctor", "check GPU, weights, OCIO config and ports"),
    ("keys", "void_engine.commands.keys", "make CURVE key pairs"),
    ("download", "void_engine.commands.download", "download the VOID weights into a model directory"),
    ("make-tiny-model", "void_engine.pipeline.tiny", "write a tiny random VOID model directory (tests, demo)"),
    ("demo", "void_engine.demo.run", "run the embedded demo shot end to end"),
    ("farm-bundle", "void_engine.cluster.farm", "write an Open Job Description job bundle for a shot (render farm)"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="void-engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module_name)
        # Arguments are added lazily in main() so only the chosen module is imported.
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # First pass: find the command; second pass: parse its own arguments.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    try:
        module = importlib.import_module(known._module)
    except ModuleNotFoundError as exc:
        if exc.name and known._module.startswith(exc.name):
            print(f"void-engine: the '{known.command}' command is not part of this build", file=sys.stderr)
            return 2
        raise
    full = argparse.ArgumentParser(prog=f"void-engine {known.command}")
    module.add_arguments(full)
    args = full.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
