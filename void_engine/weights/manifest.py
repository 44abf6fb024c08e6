"""The weights manifest: which hub repos, revisions and files make a model directory (config/weights.toml).

Nothing here touches the network; the download command and ``doctor`` both read the same manifest,
so "what should be in the model directory" has one answer.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

WEIGHTS_CONFIG_ENV = "VOID_WEIGHTS_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "weights.toml"
SAM2_SIZES = ("tiny", "small", "base-plus", "large")
_REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WHEN_RE = re.compile(r"^(always|pass2|sam2:[\w-]+)$")
BASE_TRANSFORMER = "transformer"  # subfolder of the base component holding the transformer


class ManifestError(ValueError):
    """config/weights.toml is unreadable or inconsistent; the message names the file and the key."""


@dataclass(frozen=True)
class Component:
    """One hub repository and the files the engine needs from it."""

    name: str
    repo: str
    revision: str
    dest: str  # folder inside the model directory, "" for the directory itself
    when: str  # "always" | "pass2" | "sam2:SIZE"
    files: tuple[str, ...]

    def local_path(self, repo_file: str) -> PurePosixPath:
        """Where `repo_file` lives inside the model directory (a relative POSIX path)."""
        return PurePosixPath(self.dest, repo_file) if self.dest else PurePosixPath(repo_file)

    @property
    def required(self) -> bool:
        """Whether the model directory is unusable without this component."""
        return self.when == "always"


@dataclass(frozen=True)
class WeightFile:
    """One expected file: where it comes from and where it goes."""

    component: Component
    repo_file: str  # path inside the hub repository
    rel: PurePosixPath  # path inside the model directory

    @property
    def required(self) -> bool:
        return self.component.required

    @property
    def is_void_checkpoint(self) -> bool:
        """void_pass1/void_pass2.safetensors: a VOID transformer checkpoint (complete or a delta)."""
        return (
            self.component.dest == "" and self.repo_file.startswith("void_pass") and self.rel.suffix == ".safetensors"
        )

    @property
    def is_base_transformer_weights(self) -> bool:
        """A weights file of the base model's transformer/ folder (unused when the VOID checkpoints are complete)."""
        return (
            self.component.name == "base"
            and self.repo_file.startswith(f"{BASE_TRANSFORMER}/")
            and (self.rel.suffix == ".safetensors" or self.repo_file.endswith(".safetensors.index.json"))
        )

    @property
    def is_base_transformer_config(self) -> bool:
        return self.component.name == "base" and self.repo_file == f"{BASE_TRANSFORMER}/config.json"


@dataclass(frozen=True)
class Manifest:
    """All components of config/weights.toml, in file order."""

    source: Path
    components: tuple[Component, ...]

    def select(self, with_pass2: bool = False, sam2: str | None = None) -> list[Component]:
        """The components a download with these options fetches ("always" ones first, pass 1 last)."""
        wanted = {"always"} | ({"pass2"} if with_pass2 else set()) | ({f"sam2:{sam2}"} if sam2 else set())
        if sam2 and f"sam2:{sam2}" not in {c.when for c in self.components}:
            sizes = sorted(c.when.split(":", 1)[1] for c in self.components if c.when.startswith("sam2:"))
            raise ManifestError(f"{self.source}: no SAM2 size {sam2!r}; known sizes: {', '.join(sizes)}")
        return [c for c in self.components if c.when in wanted]

    def files(self, components: list[Component] | None = None) -> list[WeightFile]:
        """Every expected file of `components` (default: all)."""
        chosen = self.components if components is None else components
        return [WeightFile(c, f, c.local_path(f)) for c in chosen for f in c.files]


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The manifest to read: `path`, else $VOID_WEIGHTS_CONFIG, else the repository's config/weights.toml."""
    if path is not None:
        return Path(path)
    env = os.environ.get(WEIGHTS_CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """Read and validate the weights manifest; ManifestError naming the file and key on any problem."""
    source = config_path(path)
    try:
        data = tomllib.loads(source.read_text())
    except FileNotFoundError as exc:
        raise ManifestError(f"weights manifest not found: {source} (set ${WEIGHTS_CONFIG_ENV})") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{source}: cannot read: {exc}") from exc
    table = data.get("component")
    if not isinstance(table, dict) or not table:
        raise ManifestError(f"{source}: no [component.NAME] tables")
    components = []
    seen: dict[str, str] = {}
    for name, entry in table.items():
        where = f"{source}: [component.{name}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where} is not a table")
        unknown = set(entry) - {"repo", "revision", "dest", "when", "files"}
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        repo = entry.get("repo")
        if not isinstance(repo, str) or not _REPO_RE.match(repo):
            raise ManifestError(f"{where}: repo must be 'owner/name', got {repo!r}")
        revision = entry.get("revision", "main")
        if not isinstance(revision, str) or not revision:
            raise ManifestError(f"{where}: revision must be a non-empty string")
        dest = entry.get("dest", "")
        when = entry.get("when", "always")
        if not isinstance(dest, str) or dest.startswith("/") or ".." in PurePosixPath(dest).parts:
            raise ManifestError(f"{where}: dest must be a relative folder, got {dest!r}")
        if not isinstance(when, str) or not _WHEN_RE.match(when):
            raise ManifestError(f"{where}: when must be 'always', 'pass2' or 'sam2:SIZE', got {when!r}")
        files = entry.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
            raise ManifestError(f"{where}: files must be a non-empty list of paths")
        component = Component(name, repo, revision, dest.strip("/"), when, tuple(files))
        for f in files:
            rel = str(component.local_path(f))
            if f.startswith("/") or ".." in PurePosixPath(f).parts:
                raise ManifestError(f"{where}: file path {f!r} must stay inside the repository")
            if rel in seen:
                raise ManifestError(f"{where}: {rel} is also produced by [component.{seen[rel]}]")
            seen[rel] = name
        components.append(component)
    return Manifest(source=source, components=tuple(components))
