"""`void-engine download`: fetch the VOID weights into a model directory, verified and resumable.

    void-engine download --dir DIR [--with-pass2] [--with-sam2 SIZE] [--revision REV]

Repos, revisions and files come from config/weights.toml (or --config / $VOID_WEIGHTS_CONFIG). The hub
token is huggingface_hub's usual one (HF_TOKEN, or `hf auth login`); HF_ENDPOINT selects a mirror. Run
it again after an interruption: partial files resume, finished ones are kept. With HF_HUB_OFFLINE=1 or
no network it lists what is missing and where to put each file by hand.

Exit status: 0 complete; 1 a download failed; 2 bad arguments or manifest; 3 offline with files missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from void_engine.weights.manifest import SAM2_SIZES, ManifestError, load_manifest

MODEL_DIR_ENV = "VOID_MODEL_DIR"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir", type=Path, default=None, help=f"model directory to fill (default: ${MODEL_DIR_ENV}, else ./void-model)"
    )
    parser.add_argument("--with-pass2", action="store_true", help="also fetch void_pass2.safetensors")
    parser.add_argument(
        "--with-sam2",
        metavar="SIZE",
        choices=SAM2_SIZES,
        help=f"also fetch a SAM2.1 checkpoint into DIR/sam2/ ({', '.join(SAM2_SIZES)})",
    )
    parser.add_argument(
        "--revision",
        action="append",
        metavar="[NAME=]REV",
        help="branch, tag or commit: REV for every repo, or NAME=REV for one component "
        "(base, pass1, pass2, sam2-SIZE) or repo id; repeatable. Default: the manifest's",
    )
    parser.add_argument("--config", type=Path, default=None, help="weights manifest (default: config/weights.toml)")
    parser.add_argument("--retries", type=int, default=5, help="resumes per file after a dropped connection")
    parser.add_argument("--verify", action="store_true", help="re-hash every file already present")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _offline_report(model_dir: Path, manifest, components, revisions: dict[str, str] | None, reason: str) -> int:
    from void_engine.weights.hub import manual_url, revision_for
    from void_engine.weights.verify import diagnose, format_verdicts

    sam2 = next((c.when.split(":", 1)[1] for c in components if c.when.startswith("sam2:")), None)
    verdicts = diagnose(model_dir, manifest, with_pass2=any(c.when == "pass2" for c in components), sam2=sam2)
    wanted = {str(wf.rel): wf for wf in manifest.files(components)}
    todo = [v for v in verdicts if not v.ok and v.path in wanted]
    if not todo:
        print(f"offline ({reason}); {model_dir} already holds every file:")
        print("\n".join("  " + line for line in format_verdicts(verdicts)))
        return 0
    print(
        f"cannot download now ({reason}). {len(todo)} file(s) of {model_dir} are missing or unusable.", file=sys.stderr
    )
    print("Fetch each one on a machine with network access and put it at the path shown:", file=sys.stderr)
    for v in todo:
        wf = wanted[v.path]
        print(f"  {v.state.value}: {v.path}", file=sys.stderr)
        rev = revision_for(wf.component, revisions)
        print(f"      from {manual_url(wf.component, wf.repo_file, rev)}", file=sys.stderr)
        print(f"      to   {(model_dir / wf.rel).resolve()}", file=sys.stderr)
    print(f"Then check with: void-engine doctor --model {model_dir}", file=sys.stderr)
    return 3


def parse_revisions(values: list[str] | None) -> dict[str, str] | None:
    """["REV"] -> {"*": REV}; ["pass1=abc", "base=v2"] -> {"pass1": "abc", "base": "v2"}."""
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        name, sep, rev = value.rpartition("=")
        if not rev or (sep and not name):
            raise ValueError(f"--revision {value!r}: expected REV or NAME=REV")
        out[name if sep else "*"] = rev
    return out


def run(args: argparse.Namespace) -> int:
    model_dir = args.dir or Path(os.environ.get(MODEL_DIR_ENV) or "void-model")
    model_dir = model_dir.expanduser()
    try:
        revisions = parse_revisions(args.revision)
        manifest = load_manifest(args.config)
        components = manifest.select(with_pass2=args.with_pass2, sam2=args.with_sam2)
        known = {c.name for c in manifest.components} | {c.repo for c in manifest.components} | {"*"}
        unknown = sorted(set(revisions or {}) - known)
        if unknown:
            raise ValueError(
                f"--revision names no component or repo: {', '.join(unknown)} "
                f"(known: {', '.join(c.name for c in manifest.components)})"
            )
    except (ManifestError, ValueError) as exc:
        print(f"void-engine download: {exc}", file=sys.stderr)
        return 2
    from void_engine.weights.hub import DownloadError, HubUnreachable, download

    print(f"model directory: {model_dir.resolve()}")
    try:
        result = download(
            model_dir,
            manifest,
            components,
            revision=revisions,
            retries=args.retries,
            verify="always" if args.verify else "changed",
            progress=not args.no_progress,
        )
    except HubUnreachable as exc:
        return _offline_report(model_dir, manifest, components, revisions, str(exc))
    except DownloadError as exc:
        print(f"void-engine download: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"void-engine download: {exc}", file=sys.stderr)
        return 1
    not_needed = (
        f", {len(result.not_needed)} not needed (the VOID checkpoints hold the complete transformer)"
        if result.not_needed
        else ""
    )
    print(
        f"done: {len(result.downloaded)} downloaded, {len(result.replaced)} fetched again, "
        f"{len(result.already_present)} already present and verified{not_needed}"
    )
    print(f"use it with: VOID_MODEL_DIR={model_dir} make demo   or   void-engine doctor --model {model_dir}")
    return 0
