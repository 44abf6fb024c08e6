"""Fetch the manifest's files from the Hugging Face hub into a model directory, resumably and verified.

Metadata goes through huggingface_hub (``HfApi.model_info`` with file metadata, ``get_hf_file_metadata``
-- the HEAD on ``/resolve`` -- and its token/endpoint/offline handling). The bytes are fetched here,
with HTTP Range, into ``<DIR>/.void-download/<path>.part``: huggingface_hub's own downloader deletes a
partial file when the process stops, and an 11 GB checkpoint must survive a dropped connection or a
Ctrl-C. A finished file is checked against the hub's size and hash (sha256 for LFS files, the git blob
sha1 for small ones) before anything is moved into place; the directory becomes usable only once every
file is verified: a new base folder is renamed into place whole, and void_pass1.safetensors (what the
loader requires) is moved last.

Before the base transformer's 11 GB of weights, the VOID checkpoints' safetensors headers are read
(HTTP range requests, through huggingface_hub's ``parse_safetensors_file_metadata``): when every
checkpoint holds the complete transformer (void_engine.weights.layout), only the base transformer's
config.json is fetched and its weights are left out.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .hashing import git_blob_sha1, sha256_file
from .layout import CheckpointLayout, checkpoint_layout, expected_shapes
from .lockfile import LockEntry, read_lock, write_lock
from .manifest import Component, Manifest, WeightFile
from .safetensors_header import HeaderError, read_header
from .verify import PART_SUFFIX, STAGING_DIR, partial_path

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"


class DownloadError(RuntimeError):
    """A download that cannot go on; the message says which file/repo/revision and what to do."""


class HubUnreachable(DownloadError):
    """Offline mode, or no network: nothing can be fetched now."""


@dataclass(frozen=True)
class RemoteFile:
    """A manifest file as the hub describes it at a resolved commit."""

    wf: WeightFile
    revision: str  # as requested
    commit: str  # as resolved by the hub
    size: int
    sha256: str | None
    git_sha1: str | None

    @property
    def rel(self) -> str:
        return str(self.wf.rel)


@dataclass
class DownloadResult:
    downloaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # present but corrupt/incomplete, fetched again
    not_needed: list[str] = field(default_factory=list)  # base transformer weights a complete checkpoint replaces
    layout: CheckpointLayout | None = None  # what the VOID checkpoints' headers said (None: not asked)


def _hub():
    """huggingface_hub's pieces, imported late so HF_ENDPOINT / HF_HUB_OFFLINE set before the call count."""
    import httpx2
    from huggingface_hub import HfApi, constants, errors, file_download
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status, tqdm

    return httpx2, HfApi, constants, errors, file_download, build_hf_headers, get_session, hf_raise_for_status, tqdm


def is_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set."""
    from huggingface_hub import constants

    return bool(constants.is_offline_mode()) or os.environ.get("HF_HUB_OFFLINE", "").upper() in (
        "1",
        "ON",
        "YES",
        "TRUE",
    )


def endpoint_url(endpoint: str | None = None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT or DEFAULT_ENDPOINT).rstrip("/")


def manual_url(component: Component, repo_file: str, revision: str | None = None, endpoint: str | None = None) -> str:
    """The browser/curl URL of one file (for the offline instructions)."""
    return f"{endpoint_url(endpoint)}/{component.repo}/resolve/{revision or component.revision}/{repo_file}"


def resolve(
    component: Component, revision: str | None = None, *, endpoint: str | None = None, token: str | bool | None = None
) -> list[RemoteFile]:
    """Ask the hub for the component's files at `revision` (default: the manifest's): commit, sizes, hashes."""
    httpx2, HfApi, constants, errors, *_ = _hub()
    rev = revision or component.revision
    where = f"{component.repo} at revision {rev!r}"
    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(component.repo, revision=rev, files_metadata=True)
    except errors.RevisionNotFoundError as exc:
        raise DownloadError(
            f"revision {rev!r} not found in {component.repo}: give an existing branch, tag or "
            f"commit (--revision, or 'revision' in [component.{component.name}])"
        ) from exc
    except errors.GatedRepoError as exc:
        raise DownloadError(
            f"{component.repo} is gated: accept its terms on the hub, then log in (`hf auth login`) or set HF_TOKEN"
        ) from exc
    except errors.RepositoryNotFoundError as exc:
        raise DownloadError(
            f"repository {component.repo} not found, or private and no valid token (`hf auth login` or HF_TOKEN)"
        ) from exc
    except (errors.OfflineModeIsEnabled, httpx2.ConnectError, httpx2.TimeoutException) as exc:
        raise HubUnreachable(f"cannot reach {endpoint_url(endpoint)} for {where}: {exc}") from exc
    except errors.HfHubHTTPError as exc:
        raise DownloadError(f"{where}: the hub answered {exc}") from exc
    commit = info.sha
    if not commit:
        raise DownloadError(f"{where}: the hub returned no commit id")
    siblings = {s.rfilename: s for s in (info.siblings or [])}
    out = []
    for wf in (WeightFile(component, f, component.local_path(f)) for f in component.files):
        sib = siblings.get(wf.repo_file)
        if sib is None:
            raise DownloadError(
                f"{where} (commit {commit[:10]}) has no file {wf.repo_file!r} "
                f"(listed in [component.{component.name}] of the weights manifest)"
            )
        if sib.lfs is not None:
            out.append(RemoteFile(wf, rev, commit, int(sib.lfs.size), sib.lfs.sha256, None))
        else:
            if sib.size is None:
                raise DownloadError(f"{where}: the hub gave no size for {wf.repo_file}")
            out.append(RemoteFile(wf, rev, commit, int(sib.size), None, sib.blob_id))
    return out


def matches(path: Path, rf: RemoteFile) -> bool:
    """Size and hash of `path` equal the hub's."""
    if not path.is_file() or path.stat().st_size != rf.size:
        return False
    if rf.sha256:
        return sha256_file(path) == rf.sha256
    if rf.git_sha1:
        return git_blob_sha1(path) == rf.git_sha1
    return True


def _is_current(model_dir: Path, rf: RemoteFile, lock: dict[str, LockEntry], verify: str) -> bool:
    path = model_dir / rf.wf.rel
    if not path.is_file() or path.stat().st_size != rf.size:
        return False
    entry = lock.get(rf.rel)
    same_record = entry is not None and (entry.sha256, entry.git_sha1) == (rf.sha256, rf.git_sha1)
    if entry is not None and same_record and verify != "always" and path.stat().st_mtime_ns == entry.mtime_ns:
        return True  # untouched since we verified it
    return matches(path, rf)


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def fetch(
    rf: RemoteFile,
    model_dir: Path,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    retries: int = 5,
    progress: bool = True,
    backoff_s: float = 1.0,
) -> Path:
    """Download one file to ``<DIR>/.void-download/<rel>`` (resuming its .part), verified; return that path.

    A dropped connection resumes from the bytes already on disk (up to `retries` times in this call; the
    .part file stays for the next run). A file whose hash differs from the hub's is fetched again once.
    """
    httpx2, _, constants, errors, file_download, build_hf_headers, get_session, hf_raise_for_status, tqdm = _hub()
    staged = Path(model_dir) / STAGING_DIR / rf.rel
    part = partial_path(model_dir, rf.rel)
    stamp = part.with_name(part.name + ".commit")
    if matches(staged, rf):
        return staged
    part.parent.mkdir(parents=True, exist_ok=True)
    key = f"{rf.commit} {rf.sha256 or rf.git_sha1}"
    if part.exists() and (not stamp.exists() or stamp.read_text() != key):
        part.unlink()  # a partial file of another version of this file: useless
    stamp.write_text(key)

    url = file_download.hf_hub_url(rf.wf.component.repo, rf.wf.repo_file, revision=rf.commit, endpoint=endpoint)

    def locate() -> tuple[str, dict[str, str]]:
        """HEAD on /resolve: the (possibly signed, expiring) download URL and the headers to send there."""
        try:
            meta = file_download.get_hf_file_metadata(url, token=token, endpoint=endpoint)
        except errors.EntryNotFoundError as exc:
            raise DownloadError(f"{rf.wf.component.repo}@{rf.commit[:10]}: {rf.wf.repo_file} not found") from exc
        except (errors.OfflineModeIsEnabled, httpx2.ConnectError, httpx2.TimeoutException) as exc:
            raise HubUnreachable(f"cannot reach the hub for {rf.rel}: {exc}") from exc
        except (errors.HfHubHTTPError, errors.FileMetadataError) as exc:
            raise DownloadError(f"{rf.rel}: the hub's metadata for {url} is unusable: {exc}") from exc
        location = meta.location or url
        headers = build_hf_headers(token=token)
        if not _same_origin(location, endpoint_url(endpoint)):
            headers.pop("authorization", None)  # a signed CDN URL: the hub token must not leave the hub
        headers["Accept-Encoding"] = "identity"  # byte offsets must be file offsets
        return location, headers

    location, headers = locate()
    lost = 0  # consecutive failed attempts without progress
    bad_hash = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if have > rf.size:
            part.unlink()
            have = 0
        if have < rf.size:
            try:
                _stream(
                    location,
                    part,
                    have,
                    rf,
                    headers,
                    progress,
                    httpx2,
                    get_session,
                    hf_raise_for_status,
                    tqdm,
                    constants.HF_HUB_DOWNLOAD_TIMEOUT,
                )
            except (httpx2.TransportError, _ShortBody, errors.HfHubHTTPError) as exc:
                status = getattr(getattr(exc, "response", None), "status_code", None)
                if isinstance(exc, errors.HfHubHTTPError) and status not in (403, 408, 410, 429, 500, 502, 503, 504):
                    raise DownloadError(f"{rf.rel}: download failed: {exc}") from exc
                got = part.stat().st_size if part.exists() else 0
                lost = 1 if got > have else lost + 1
                if lost > retries:
                    raise DownloadError(
                        f"{rf.rel}: connection lost at {got} of {rf.size} bytes ({exc}); the partial file is kept "
                        f"in {part.parent} -- run the same command again to resume"
                    ) from exc
                log.warning("%s: interrupted at %d of %d bytes (%s); resuming", rf.rel, got, rf.size, exc)
                time.sleep(backoff_s * lost)
                if status in (403, 410):
                    location, headers = locate()  # the signed URL expired during a long download
                continue
        if matches(part, rf):
            staged.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, staged)
            stamp.unlink(missing_ok=True)
            return staged
        bad_hash += 1
        part.unlink()
        algo = "sha256" if rf.sha256 else "git sha1"
        if bad_hash > 1:
            raise DownloadError(
                f"{rf.rel}: downloaded twice and the {algo} differs from the hub's both times; "
                "check the network path (proxy, mirror) and try again"
            )
        log.warning("%s: %s differs from the hub's; fetching it again", rf.rel, algo)


class _ShortBody(Exception):
    """The server ended the body before the promised length without an HTTP-level error."""


def _stream(url, part, have, rf, headers, progress, httpx2, get_session, hf_raise_for_status, tqdm, timeout) -> None:
    req_headers = dict(headers)
    if have:
        req_headers["Range"] = f"bytes={have}-"
    with get_session().stream("GET", url, headers=req_headers, timeout=timeout, follow_redirects=True) as resp:
        if resp.status_code == 416:  # our part is no prefix of the file any more
            part.unlink(missing_ok=True)
            raise _ShortBody("range not satisfiable; starting over")
        if resp.status_code >= 400:
            resp.read()
            hf_raise_for_status(resp)
        if have and resp.status_code == 200:
            have = 0  # the server ignored Range: start over
        elif have and not resp.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            part.unlink(missing_ok=True)
            raise _ShortBody(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
        mode = "ab" if have else "wb"
        bar = tqdm(
            total=rf.size,
            initial=have,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=rf.rel if len(rf.rel) <= 48 else "…" + rf.rel[-47:],
            disable=not progress or None,
            name="void_engine.download",
        )
        with bar, part.open(mode) as fh:
            for chunk in resp.iter_bytes():  # as received: a dropped connection keeps every byte
                fh.write(chunk)
                bar.update(len(chunk))
    if part.stat().st_size < rf.size:
        raise _ShortBody(f"body ended at {part.stat().st_size} of {rf.size} bytes")


def _finalize(model_dir: Path, components: list[Component], staged: dict[str, RemoteFile]) -> None:
    """Move verified files from the staging folder into place; pass 1 (the loader's marker) last."""
    staging = model_dir / STAGING_DIR
    ordered = sorted(components, key=lambda c: c.name == "pass1")
    for comp in ordered:
        rels = [str(comp.local_path(f)) for f in comp.files]
        mine = [r for r in rels if r in staged]
        if not mine:
            continue
        if comp.dest and not (model_dir / comp.dest).exists() and len(mine) == len(rels):
            # A fresh folder appears whole, in one rename.
            (model_dir / comp.dest).parent.mkdir(parents=True, exist_ok=True)
            for leftover in (staging / comp.dest).rglob("*"):
                if leftover.is_file() and leftover.name.endswith((PART_SUFFIX, ".commit")):
                    leftover.unlink()
            os.replace(staging / comp.dest, model_dir / comp.dest)
            continue
        for rel in mine:
            target = model_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)


def revision_for(component: Component, revision: str | dict[str, str] | None) -> str | None:
    """The override for `component`: a plain string applies to every repo; a dict maps a component name or
    repo id (or "*") to a revision."""
    if revision is None or isinstance(revision, str):
        return revision
    return revision.get(component.name) or revision.get(component.repo) or revision.get("*")


def _check_disk_space(model_dir: Path, todo: list[RemoteFile]) -> None:
    need = 0
    for rf in todo:
        part = partial_path(model_dir, rf.rel)
        need += rf.size - (part.stat().st_size if part.is_file() else 0)
    free = shutil.disk_usage(model_dir).free
    if need > free:
        raise DownloadError(
            f"{model_dir}: {need / 1024**3:.1f} GiB still to download but only "
            f"{free / 1024**3:.1f} GiB free on that disk"
        )


def remote_header_shapes(
    rf: RemoteFile, *, endpoint: str | None = None, token: str | bool | None = None
) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the hub's copy of a safetensors file: its header only (HTTP range requests)."""
    httpx2, HfApi, constants, errors, *_ = _hub()
    where = f"{rf.wf.component.repo}@{rf.commit[:10]}: {rf.wf.repo_file}"
    try:
        meta = HfApi(endpoint=endpoint, token=token).parse_safetensors_file_metadata(
            rf.wf.component.repo, rf.wf.repo_file, revision=rf.commit
        )
    except errors.SafetensorsParsingError as exc:
        raise DownloadError(f"{where}: the hub's file has no readable safetensors header: {exc}") from exc
    except (errors.OfflineModeIsEnabled, httpx2.ConnectError, httpx2.TimeoutException) as exc:
        raise HubUnreachable(f"cannot reach the hub for the header of {rf.rel}: {exc}") from exc
    except errors.HfHubHTTPError as exc:
        raise DownloadError(f"{where}: reading its header, the hub answered {exc}") from exc
    return {name: tuple(info.shape) for name, info in meta.tensors.items()}


def _header_shapes(
    model_dir: Path, rf: RemoteFile, current: bool, endpoint: str | None, token: str | bool | None
) -> dict[str, tuple[int, ...]]:
    """The checkpoint's tensor shapes: from the verified copy on disk, else from the hub's header."""
    if current:
        try:
            return {name: t.shape for name, t in read_header(model_dir / rf.wf.rel).tensors.items()}
        except (OSError, HeaderError):
            pass
    return remote_header_shapes(rf, endpoint=endpoint, token=token)


def plan_layout(
    model_dir: Path,
    remote: list[RemoteFile],
    current: set[str],
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    retries: int = 5,
    progress: bool = True,
    backoff_s: float = 1.0,
) -> CheckpointLayout | None:
    """Whether the VOID checkpoints in `remote` hold the complete transformer, from their headers and the base
    transformer's config.json (fetched into the staging folder if it is not in place). `current`: the
    relative paths already present and verified. None when `remote` has no checkpoint or no config."""
    voids = [rf for rf in remote if rf.wf.is_void_checkpoint]
    config_rf = next((rf for rf in remote if rf.wf.is_base_transformer_config), None)
    if not voids or config_rf is None:
        return None
    if config_rf.rel in current:
        config_path = model_dir / config_rf.wf.rel
    else:
        config_path = fetch(
            config_rf,
            model_dir,
            endpoint=endpoint,
            token=token,
            retries=retries,
            progress=progress,
            backoff_s=backoff_s,
        )
    try:
        expected = expected_shapes(json.loads(config_path.read_text()))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise DownloadError(f"{config_rf.rel}: not a usable transformer config: {exc}") from exc
    layouts = [
        checkpoint_layout(rf.rel, _header_shapes(model_dir, rf, rf.rel in current, endpoint, token), expected)
        for rf in voids
    ]
    delta = next((layout for layout in layouts if not layout.complete), None)
    return delta or CheckpointLayout(True, "; ".join(layout.detail for layout in layouts))


def _without(components: list[Component], dropped: set[str]) -> list[Component]:
    """`components` with the files whose model-directory paths are in `dropped` left out."""
    out = []
    for comp in components:
        kept = tuple(f for f in comp.files if str(comp.local_path(f)) not in dropped)
        out.append(comp if len(kept) == len(comp.files) else dataclasses.replace(comp, files=kept))
    return out


def download(
    model_dir: str | Path,
    manifest: Manifest,
    components: list[Component],
    *,
    revision: str | dict[str, str] | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    retries: int = 5,
    verify: str = "changed",
    progress: bool = True,
    backoff_s: float = 1.0,
    say: Callable[[str], None] = print,
) -> DownloadResult:
    """Make `model_dir` hold every file of `components`, verified; record them in .void-weights.json.

    Resolves every component first (a bad revision fails before any byte moves), skips files already
    present and matching the hub, fetches the rest into the staging folder, then moves them into place.
    """
    model_dir = Path(model_dir)
    if is_offline():
        raise HubUnreachable("HF_HUB_OFFLINE is set")
    model_dir.mkdir(parents=True, exist_ok=True)
    remote = [
        rf for comp in components for rf in resolve(comp, revision_for(comp, revision), endpoint=endpoint, token=token)
    ]
    lock = read_lock(model_dir)
    result = DownloadResult()
    todo = []
    for rf in remote:
        if _is_current(model_dir, rf, lock, verify):
            result.already_present.append(rf.rel)
        else:
            todo.append(rf)
    base_weights = {rf.rel for rf in todo if rf.wf.is_base_transformer_weights}
    if base_weights:
        # Even without the base transformer weights it must fit; checked before any byte moves.
        _check_disk_space(model_dir, [rf for rf in todo if rf.rel not in base_weights])
        result.layout = plan_layout(
            model_dir,
            remote,
            set(result.already_present),
            endpoint=endpoint,
            token=token,
            retries=retries,
            progress=progress,
            backoff_s=backoff_s,
        )
        if result.layout is not None:
            say(f"layout: {result.layout.detail}")
        if result.layout is not None and result.layout.complete:
            say(f"not fetching the base transformer weights ({', '.join(sorted(base_weights))}): never used")
            result.not_needed = sorted(base_weights)
            todo = [rf for rf in todo if rf.rel not in base_weights]
            remote = [rf for rf in remote if rf.rel not in base_weights]
            components = _without(components, base_weights)
    _check_disk_space(model_dir, todo)
    staged: dict[str, RemoteFile] = {}
    for rf in todo:
        existed = (model_dir / rf.wf.rel).exists()
        say(
            f"{'re-fetching' if existed else 'fetching'} {rf.rel} ({rf.size} bytes) from "
            f"{rf.wf.component.repo}@{rf.commit[:10]}"
            + (" -- the copy on disk does not match the hub" if existed else "")
        )
        fetch(rf, model_dir, endpoint=endpoint, token=token, retries=retries, progress=progress, backoff_s=backoff_s)
        staged[rf.rel] = rf
        (result.replaced if existed else result.downloaded).append(rf.rel)
    _finalize(model_dir, components, staged)
    entries = {}
    for rf in remote:
        st = (model_dir / rf.wf.rel).stat()
        entries[rf.rel] = LockEntry(
            rf.wf.component.repo,
            rf.wf.repo_file,
            rf.revision,
            rf.commit,
            rf.size,
            rf.sha256,
            rf.git_sha1,
            st.st_mtime_ns,
        )
    write_lock(model_dir, entries)
    staging = model_dir / STAGING_DIR
    if staging.is_dir() and not any(p.is_file() and p.name.endswith(PART_SUFFIX) for p in staging.rglob("*")):
        shutil.rmtree(staging, ignore_errors=True)
    return result
