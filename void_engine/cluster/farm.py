"""`void-engine farm-bundle`: an Open Job Description job bundle for one shot (overnight batch).

The bundle is a folder a render farm takes as it is:

- ``template.yaml``          the job template (a copy of config/void.template.yaml): `void-engine run`
                             over contiguous frame windows (task chunking), one GPU per task;
- ``parameter_values.yaml``  this shot's values, in Deadline Cloud's bundle format;
- ``asset_references.yaml``  the folders the job reads and writes (Deadline job attachments);
- ``openjd_params.json``     the same values as a plain map, for a local ``openjd run``.

Submit with ``deadline bundle submit DIR`` or run here with
``openjd run DIR/template.yaml -p file://DIR/openjd_params.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

TEMPLATE_ENV = "VOID_FARM_TEMPLATE"


@dataclass(frozen=True)
class FarmJob:
    """The template's parameters for one shot (names match config/void.template.yaml)."""

    ShotName: str
    Plate: str
    Frames: str
    MaskKind: str  # "quadmask" or "remove"
    Mask: str
    Prompt: str
    OutDir: str
    Affected: str = ""
    Backend: str = "void"
    ModelDir: str = ""
    EngineConfig: str = ""
    Device: str = "cuda"
    Seed: int = 0
    Steps: int = 0  # 0 = the engine's default
    OutputName: str = ""
    ChunkFrames: int = 85
    VoidEngine: str = "void-engine"

    def parameters(self) -> dict[str, str | int]:
        return asdict(self)

    def input_folders(self) -> list[str]:
        """Folders the tasks read: the plate's, the masks', the model and the engine config's."""
        paths = [self.Plate, self.Mask, self.Affected]
        folders = [os.path.dirname(p) for p in paths if p]
        folders += [p for p in (self.ModelDir,) if p]
        folders += [os.path.dirname(self.EngineConfig)] if self.EngineConfig else []
        return sorted(set(folders))


@dataclass(frozen=True)
class Bundle:
    """Where a written bundle's files are."""

    folder: Path
    template: Path
    parameter_values: Path
    asset_references: Path
    openjd_params: Path


def template_path() -> Path:
    """config/void.template.yaml of this checkout (or ``$VOID_FARM_TEMPLATE``)."""
    env = os.environ.get(TEMPLATE_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "config" / "void.template.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"farm template not found at {path} (set ${TEMPLATE_ENV} to its path)")
    return path


def frame_range_text(frames: tuple[int, ...]) -> str:
    """``(1001, 1002, 1003, 1010)`` -> ``"1001-1003,1010"`` (OpenJD range expressions)."""
    parts: list[str] = []
    start = prev = frames[0]
    for f in (*frames[1:], None):
        if f is not None and f == prev + 1:
            prev = f
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if f is not None:
            start = prev = f
    return ",".join(parts)


def _yaml_scalar(value: str | int) -> str:
    # JSON scalars are valid YAML and quote everything a prompt may hold.
    return json.dumps(value, ensure_ascii=False)


def write_bundle(job: FarmJob, folder: Path, template: Path | None = None) -> Bundle:
    """Write the bundle for ``job`` into ``folder`` (created; existing bundle files are replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    tpl = folder / "template.yaml"
    shutil.copyfile(template or template_path(), tpl)
    params = job.parameters()
    values = folder / "parameter_values.yaml"
    values.write_text(
        "parameterValues:\n"
        + "".join(f"  - name: {name}\n    value: {_yaml_scalar(value)}\n" for name, value in params.items())
    )
    assets = folder / "asset_references.yaml"
    inputs = job.input_folders()
    lines = ["assetReferences:", "  inputs:", "    filenames: []"]
    lines += (
        ["    directories:", *[f"      - {_yaml_scalar(d)}" for d in inputs]] if inputs else ["    directories: []"]
    )
    lines += ["  outputs:", "    directories:", f"      - {_yaml_scalar(job.OutDir)}", "  referencedPaths: []"]
    assets.write_text("\n".join(lines) + "\n")
    local = folder / "openjd_params.json"
    local.write_text(json.dumps(params, indent=2, ensure_ascii=False) + "\n")
    return Bundle(folder, tpl, values, assets, local)


# ---------------------------------------------------------------------------------------------
# The command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bridge.cli import add_job_arguments

    add_job_arguments(parser)
    parser.add_argument("--bundle", type=Path, required=True, help="folder to write the job bundle into")
    parser.add_argument("--shot-name", help="job name in the farm's monitor (default: the plate's file name)")
    parser.add_argument(
        "--chunk-frames",
        type=int,
        default=85,
        help="frames per task (one model run); a multiple of 85 keeps VOID's windows whole",
    )
    parser.add_argument("--device", default="cuda", help="torch device on the farm worker (default cuda)")
    parser.add_argument("--config", type=Path, help="engine settings (TOML) the workers use (model size, memory mode)")
    parser.add_argument(
        "--void-engine",
        default="void-engine",
        help="how a farm worker starts the engine CLI (default: void-engine on its PATH)",
    )


def job_from_args(args: argparse.Namespace) -> FarmJob:
    """The bundle's parameters from the same job flags as `void-engine run`; ValueError names the flag."""
    from bridge.cli import spec_from_args

    spec = spec_from_args(args)
    if getattr(spec, "masks", None) is not None:
        raise ValueError(
            "the farm template runs --quadmask or --remove [--affected] jobs; build the quadmask "
            "of a roto/points/instruction job first (void-bridge submit), then bundle that"
        )
    if getattr(spec, "pass2", False):
        raise ValueError("--pass2: the farm template runs pass 1 only")
    if args.chunk_frames < 1:
        raise ValueError("--chunk-frames must be >= 1")
    kind, mask = ("quadmask", spec.quadmask) if spec.quadmask else ("remove", spec.remove)
    assert mask is not None and spec.out is not None
    name = args.shot_name or Path(spec.plate).name.split(".")[0] or "shot"
    return FarmJob(
        ShotName=name,
        Plate=spec.plate,
        Frames=frame_range_text(spec.frames),
        MaskKind=kind,
        Mask=mask,
        Affected=spec.affected or "",
        Prompt=spec.prompt,
        OutDir=spec.out,
        Backend=spec.backend or "void",
        ModelDir=str(Path(args.model).resolve()) if args.model else "",
        EngineConfig=str(args.config.resolve()) if args.config else "",
        Device=args.device,
        Seed=spec.seed,
        Steps=spec.steps or 0,
        OutputName=spec.name or "",
        ChunkFrames=args.chunk_frames,
        VoidEngine=args.void_engine,
    )


def run(args: argparse.Namespace) -> int:
    try:
        job = job_from_args(args)
        bundle = write_bundle(job, args.bundle.resolve())
    except (ValueError, OSError) as exc:
        print(f"void-engine farm-bundle: {exc}", file=sys.stderr)
        return 2
    print(f"void-engine farm-bundle: wrote {bundle.folder}")
    print(f"  local:          openjd run {bundle.template} -p file://{bundle.openjd_params}")
    print(f"  Deadline Cloud: deadline bundle submit {bundle.folder}")
    return 0
