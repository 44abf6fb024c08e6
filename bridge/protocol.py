"""The VOID Bridge wire protocol: versioned msgpack headers over ZeroMQ multipart frames.

Every message is ``[header, *blobs]``: ``header`` is a msgpack map carrying ``v`` (protocol
version), ``type`` and ``id`` (the request id, echoed in the reply) plus type-specific fields;
blobs are raw bytes (EXR file chunks) that a header refers to by position.

This module is shared by the engine and the host plugins, so it imports only the standard
library and msgpack (never zmq, torch or numpy): it turns frames into validated values and
values into frames, and every problem becomes a :class:`ProtocolError` with a stable code.

Requests (header fields besides v/type/id; every request may carry ``token``, the client's
ownership token without CURVE, and ``admin_token``) and what their reply adds:

=========  ==========================================  ===========================================
type       request fields                              reply fields (``type: "reply"``, ``re``)
=========  ==========================================  ===========================================
hello      client?                                     protocol, engine, backends, backend,
                                                       backend_state, model, memory_mode, limits,
                                                       presets, by_path, roots, curve, owner, admin,
                                                       mask_modes, pass2, pass2_error, reasoner
ping       -                                           time
submit     job (JobSpec map)                           job, state, created
status     job                                         status (JobStatus map)
events     job, after=0, wait=0 (s, long poll)         job, events [Event maps], state
cancel     job                                         job, state, cancel_requested
fetch      job                                         pattern, frames, version_dir, by_path,
                                                       files [{name, size}], chunk_bytes, credit
fetch      job, file, offset, length                   file, offset, size + blob 0 (the bytes)
list       all=false, limit=100                        jobs [JobStatus maps]
upload     files [{name, size}]                        upload, chunk_bytes, credit
chunk      upload, file (index), offset + blob 0       upload, file, received, credit (1), complete
shutdown   - (admin only)                              stopping
=========  ==========================================  ===========================================

Errors: ``{type: "error", id, code, message, field?}`` with ``code`` one of :data:`ERROR_CODES`.

A job's mask (``job.masks``, see :class:`JobMasks`) comes one of four ways: ``quadmask`` (a
ready quadmask sequence), ``mattes`` (remove [+ affected] matte sequences), ``propagate`` (a roto
rendered on a few key frames and/or click points, spread over the range by SAM2 in the engine)
and ``reason`` (mattes or propagate plus an instruction for the engine's VLM reasoner). The
older top-level ``job.quadmask`` / ``job.remove`` / ``job.affected`` fields still mean
``quadmask`` / ``mattes``. ``job.pass2: true`` asks for VOID's refinement pass. These fields
are optional additions, so the protocol version stays 1: an older client never sends them, an
older engine refuses them by name (``unknown field 'job.masks'``), and ``hello`` tells a new
client what the engine offers (``mask_modes``, ``pass2``) before it submits.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import msgpack

# The frame-list grammar lives with the frame patterns (bridge.sequences); it was defined here
# before, so the name stays importable from this module for code written against that.
from .sequences import parse_frame_list as parse_frame_list

PROTOCOL_VERSION = 1

# The most frames one job may name (an engine's [limits] max_frames may be lower, not higher).
MAX_FRAMES = 10000
# The most by-value files one frame of a job brings: the plate and up to three mask sequences.
MAX_FILES_PER_FRAME = 4
# Bytes one file takes in an `upload` request or a `fetch` manifest, {"name": ..., "size": ...},
# with a wire name such as "mask_affected.10000.exr" (46 bytes of msgpack); 64 leaves room.
FILE_ENTRY_BYTES = 64
# Header size cap, checked before msgpack allocates anything. Headers carry job specs, frame
# lists and file lists, never pixels; the cap follows the frame cap, so the `upload` of the
# longest by-value job fits (MAX_FRAMES x MAX_FILES_PER_FRAME files: 2.56 MB).
MAX_HEADER_BYTES = max(256 * 1024, MAX_FRAMES * MAX_FILES_PER_FRAME * FILE_ENTRY_BYTES)
MAX_BLOBS = 4

# Stable error codes (docs/architecture.md). Clients switch on these; messages are for people.
BAD_REQUEST = "bad_request"
BAD_FRAME = "bad_frame"
TOO_LARGE = "too_large"
UNAUTHORISED = "unauthorised"
NOT_FOUND = "not_found"
BUSY = "busy"
INTERNAL = "internal"
ERROR_CODES = frozenset({BAD_REQUEST, BAD_FRAME, TOO_LARGE, UNAUTHORISED, NOT_FOUND, BUSY, INTERNAL})

# Request types. `upload`/`chunk` carry by-value inputs (engine grants credit), `fetch` with a
# file name pulls result chunks (client asks for them): zguide ch.7 credit-based transfer.
REQUEST_TYPES = (
    "hello",
    "ping",
    "submit",
    "status",
    "events",
    "cancel",
    "fetch",
    "list",
    "upload",
    "chunk",
    "shutdown",
)
ADMIN_ONLY = frozenset({"shutdown"})

# Job states, in the order a job normally moves through them.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
JOB_STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
TERMINAL_STATES = frozenset({DONE, FAILED, CANCELLED})

# Names of by-value files: one path component, no leading dot, nothing that could escape.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-#%@$]{0,199}$")
_ID_MAX = 128


class ProtocolError(Exception):
    """A request that cannot be served; carried back to the client as an error reply."""

    def __init__(self, code: str, message: str, field: str | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Message:
    """One decoded multipart message: its header map and its blobs."""

    header: dict[str, Any]
    blobs: tuple[bytes, ...] = ()

    @property
    def type(self) -> str:
        return self.header["type"]

    @property
    def id(self) -> Any:
        return self.header.get("id")


# ---------------------------------------------------------------------------------------------
# Frames <-> messages


def encode(header: Mapping[str, Any], blobs: Sequence[bytes] = ()) -> list[bytes]:
    """Frames for ``header`` (``v`` is filled in) followed by ``blobs``."""
    full = {"v": PROTOCOL_VERSION, **header}
    return [msgpack.packb(full, use_bin_type=True), *[bytes(b) for b in blobs]]


def _unpack_header(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(
            TOO_LARGE, f"frame 0 (header) is {len(raw)} bytes; the limit is {MAX_HEADER_BYTES}", "header"
        )
    try:
        # Every length is capped by the frame size itself, so a forged huge length fails here
        # instead of allocating.
        header = msgpack.unpackb(
            raw,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=len(raw),
            max_bin_len=len(raw),
            max_array_len=len(raw),
            max_map_len=len(raw),
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise ProtocolError(
            BAD_FRAME, f"frame 0 (header) is not valid msgpack: {type(exc).__name__}", "header"
        ) from None
    if not isinstance(header, dict):
        raise ProtocolError(BAD_FRAME, f"frame 0 (header) must be a msgpack map, got {type(header).__name__}", "header")
    return header


def decode(frames: Sequence[bytes]) -> Message:
    """Decode and check the envelope of a multipart message (not yet the type's own fields).

    Raises ProtocolError naming the frame or field at fault.
    """
    if not frames:
        raise ProtocolError(BAD_FRAME, "empty message: expected [header, *blobs]", "header")
    header = _unpack_header(bytes(frames[0]))
    if len(frames) - 1 > MAX_BLOBS:
        raise ProtocolError(BAD_FRAME, f"{len(frames) - 1} blob frames; at most {MAX_BLOBS} allowed", "blobs")
    v = header.get("v")
    if not _is_int(v):
        raise ProtocolError(BAD_REQUEST, "field 'v' (protocol version) is missing or not an integer", "v")
    if v != PROTOCOL_VERSION:
        raise ProtocolError(
            BAD_REQUEST, f"protocol version v={v} is not supported; this side speaks v={PROTOCOL_VERSION}", "v"
        )
    mid = header.get("id")
    if mid is not None and not ((_is_int(mid)) or (isinstance(mid, str) and len(mid) <= _ID_MAX)):
        raise ProtocolError(BAD_REQUEST, "field 'id' must be an integer or a short string", "id")
    mtype = header.get("type")
    if not isinstance(mtype, str):
        raise ProtocolError(BAD_REQUEST, "field 'type' is missing or not a string", "type")
    return Message(header, tuple(bytes(f) for f in frames[1:]))


def request_id_of(frames: Sequence[bytes]) -> Any:
    """Best-effort request id of a message that failed to decode (None when unknowable)."""
    try:
        header = _unpack_header(bytes(frames[0]))
        mid = header.get("id")
        if _is_int(mid) or (isinstance(mid, str) and len(mid) <= _ID_MAX):
            return mid
    except Exception:
        pass
    return None


def reply(request_id: Any, rtype: str, blobs: Sequence[bytes] = (), **fields: Any) -> list[bytes]:
    """Frames of a successful reply to request ``request_id`` of type ``rtype``."""
    return encode({"type": "reply", "re": rtype, "id": request_id, **fields}, blobs)


def error_reply(request_id: Any, err: ProtocolError) -> list[bytes]:
    """Frames of an error reply; ``err`` keeps its stable code."""
    body: dict[str, Any] = {"type": "error", "id": request_id, "code": err.code, "message": err.message}
    if err.field:
        body["field"] = err.field
    return encode(body)


def raise_for_error(msg: Message) -> Message:
    """Raise the ProtocolError carried by an error reply; return ``msg`` otherwise."""
    if msg.header.get("type") == "error":
        code = msg.header.get("code")
        text = str(msg.header.get("message", ""))
        raise ProtocolError(code if code in ERROR_CODES else INTERNAL, text, msg.header.get("field"))
    return msg


# ---------------------------------------------------------------------------------------------
# Field validation


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _type_name(t: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        dict: "a map",
        list: "a list",
    }.get(t, getattr(t, "__name__", str(t)))


def check_map(d: Any, where: str, allowed: Iterable[str], shape: str = "") -> None:
    """Refuse ``d`` unless it is a map holding only ``allowed`` keys; errors name ``where``."""
    if not isinstance(d, dict):
        raise ProtocolError(BAD_REQUEST, f"field '{where}' must be a map{shape}", where)
    allowed = set(allowed)
    extra = sorted(str(k) for k in d if k not in allowed)
    if extra:
        raise ProtocolError(BAD_REQUEST, f"unknown field '{where}.{extra[0]}'", f"{where}.{extra[0]}")


def get_field(
    header: Mapping[str, Any],
    name: str,
    kind: type,
    *,
    required: bool = True,
    default: Any = None,
    max_len: int | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    where: str = "",
) -> Any:
    """Read one typed field, raising bad_request naming it when missing or of the wrong shape."""
    label = f"{where}{name}"
    if name not in header or header[name] is None:
        if required:
            raise ProtocolError(BAD_REQUEST, f"field '{label}' is required", label)
        return default
    value = header[name]
    ok = (
        _is_int(value)
        if kind is int
        else (isinstance(value, (int, float)) and not isinstance(value, bool))
        if kind is float
        else isinstance(value, kind)
    )
    if not ok:
        raise ProtocolError(
            BAD_REQUEST, f"field '{label}' must be {_type_name(kind)}, got {type(value).__name__}", label
        )
    if kind is float and value != value:  # NaN passes every range check below
        raise ProtocolError(BAD_REQUEST, f"field '{label}' must be a number, got NaN", label)
    if max_len is not None and len(value) > max_len:
        raise ProtocolError(
            TOO_LARGE if kind in (list, dict) else BAD_REQUEST,
            f"field '{label}' has {len(value)} items/characters; at most {max_len} allowed",
            label,
        )
    if min_value is not None and value < min_value:
        raise ProtocolError(BAD_REQUEST, f"field '{label}' must be >= {min_value}, got {value}", label)
    if max_value is not None and value > max_value:
        raise ProtocolError(BAD_REQUEST, f"field '{label}' must be <= {max_value}, got {value}", label)
    return value


def check_safe_name(name: Any, label: str) -> str:
    """A by-value file name: one path component, no '..', no separators."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise ProtocolError(
            BAD_REQUEST, f"field '{label}' must be a plain file name (letters, digits, '._-#'), got {name!r:.80}", label
        )
    return name


# ---------------------------------------------------------------------------------------------
# Typed values at the boundary


# Mask modes, in the artist's words: (a) a ready quadmask, (b) remove [+ affected] mattes,
# (c) roto on key frames / click points propagated by SAM2, (d) (b) or (c) plus an instruction
# for the reasoner, (e) the object named in words, found by SAM3 and tracked over the range.
MASK_QUADMASK, MASK_MATTES, MASK_PROPAGATE, MASK_REASON = "quadmask", "mattes", "propagate", "reason"
MASK_TEXT = "text"
MASK_MODES = (MASK_QUADMASK, MASK_MATTES, MASK_PROPAGATE, MASK_REASON, MASK_TEXT)
MAX_MASK_TEXT = 500
MAX_KEYFRAMES = 1000
MAX_POINTS = 1000


def _frame_number(value: Any, label: str) -> int:
    if not _is_int(value) or not -(10**8) < value < 10**8:
        raise ProtocolError(BAD_REQUEST, f"field '{label}' must be a frame number, got {value!r:.40}", label)
    return value


@dataclass(frozen=True)
class ClickPoint:
    """One click on a plate frame: (x, y) in display-window pixels; label 1 = object, 0 = not."""

    frame: int
    x: float
    y: float
    label: int = 1

    def to_wire(self) -> dict[str, Any]:
        return {"frame": self.frame, "x": self.x, "y": self.y, "label": self.label}

    @classmethod
    def from_wire(cls, d: Any, where: str) -> "ClickPoint":
        check_map(d, where, ("frame", "x", "y", "label"), " with frame, x, y[, label]")
        w = f"{where}."
        frame = _frame_number(get_field(d, "frame", int, where=w), f"{where}.frame")
        # A click is a pixel position on the display window; anything huge or negative is a bug.
        x = float(get_field(d, "x", float, min_value=0, max_value=1e6, where=w))
        y = float(get_field(d, "y", float, min_value=0, max_value=1e6, where=w))
        label = get_field(d, "label", int, required=False, default=1, min_value=0, max_value=1, where=w)
        if x != x or y != y:  # NaN passes the range checks
            raise ProtocolError(BAD_REQUEST, f"field '{where}' has a NaN coordinate", where)
        return cls(frame, x, y, label)


@dataclass(frozen=True)
class JobMasks:
    """How a job carries its mask (``job.masks``). Patterns are sequence patterns like the plate's.

    mode ``quadmask``: ``quadmask`` over every job frame. ``mattes``: ``remove`` [+ ``affected``]
    over every job frame. ``propagate``: ``roto`` rendered on ``keyframes`` only (a subset of the
    job's frames) and/or ``points``; SAM2 spreads it over the range. ``reason``: an
    ``instruction`` plus a remove source (``roto``/``keyframes``/``points``, or ``remove``
    [+ ``affected``]); the engine's reasoner adds what the object affected. ``text``:
    ``remove_text`` names the object ("the glass"); SAM3 finds it on ``keyframes`` (none given:
    the engine's ``[masks] text_keyframes``) and it is tracked over the range; ``affected_text``
    (SAM3 again), ``affected`` mattes and an ``instruction`` for the reasoner may join it. ``threshold``
    (matte coverage counted as inside, default 0.5) and ``dilate_px`` (grow the regions) apply
    to every mode that reads mattes.
    """

    mode: str
    quadmask: str | None = None
    remove: str | None = None
    affected: str | None = None
    roto: str | None = None
    keyframes: tuple[int, ...] = ()
    points: tuple[ClickPoint, ...] = ()
    instruction: str | None = None
    threshold: float | None = None
    dilate_px: int | None = None
    remove_text: str | None = None
    affected_text: str | None = None

    PATHS = ("quadmask", "remove", "affected", "roto")
    TEXTS = ("remove_text", "affected_text")

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mode": self.mode}
        for name in ("quadmask", "remove", "affected", "roto", "instruction", "threshold", "dilate_px") + self.TEXTS:
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.keyframes:
            d["keyframes"] = list(self.keyframes)
        if self.points:
            d["points"] = [p.to_wire() for p in self.points]
        return d

    def sequences(self, frames: Sequence[int]) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Every file sequence this mask reads: role -> (pattern, frames it must hold)."""
        out: dict[str, tuple[str, tuple[int, ...]]] = {}
        for role in ("quadmask", "remove", "affected"):
            pattern = getattr(self, role)
            if pattern is not None:
                out[role] = (pattern, tuple(frames))
        if self.roto is not None:
            out["roto"] = (self.roto, tuple(self.keyframes))  # only the key frames exist
        return out

    @classmethod
    def from_wire(cls, d: Any, frames: Sequence[int], *, max_path: int = 4096) -> "JobMasks":
        """Validate ``job.masks`` for a job over ``frames``; errors name the field."""
        check_map(d, "job.masks", (f.name for f in dataclasses.fields(cls)))
        w = "job.masks."
        mode = get_field(d, "mode", str, max_len=32, where=w)
        if mode not in MASK_MODES:
            raise ProtocolError(
                BAD_REQUEST,
                f"field 'job.masks.mode' must be one of {', '.join(MASK_MODES)}, got {mode!r:.40}",
                "job.masks.mode",
            )
        paths = {}
        for name in cls.PATHS:
            value = get_field(d, name, str, required=False, max_len=max_path, where=w)
            if value is not None and (not value or "\x00" in value):
                raise ProtocolError(
                    BAD_REQUEST, f"field 'job.masks.{name}' must be a non-empty path without NUL", f"job.masks.{name}"
                )
            paths[name] = value
        raw_keys = get_field(d, "keyframes", list, required=False, default=[], max_len=MAX_KEYFRAMES, where=w)
        in_job = set(frames)
        keyframes: list[int] = []
        for i, f in enumerate(raw_keys):
            label = f"job.masks.keyframes[{i}]"
            _frame_number(f, label)
            if f not in in_job:
                raise ProtocolError(
                    BAD_REQUEST,
                    f"field '{label}': key frame {f} is not one of the job's frames ({min(frames)}-{max(frames)})",
                    label,
                )
            if f in keyframes:
                raise ProtocolError(BAD_REQUEST, f"field '{label}': key frame {f} is listed twice", label)
            keyframes.append(f)
        raw_points = get_field(d, "points", list, required=False, default=[], max_len=MAX_POINTS, where=w)
        points = []
        for i, p in enumerate(raw_points):
            point = ClickPoint.from_wire(p, f"job.masks.points[{i}]")
            if point.frame not in in_job:
                raise ProtocolError(
                    BAD_REQUEST,
                    f"field 'job.masks.points[{i}].frame': frame {point.frame} is not one of the job's frames",
                    f"job.masks.points[{i}].frame",
                )
            points.append(point)
        instruction = get_field(d, "instruction", str, required=False, max_len=4096, where=w)
        texts = {}
        for name in cls.TEXTS:
            value = get_field(d, name, str, required=False, max_len=MAX_MASK_TEXT, where=w)
            if value is not None and not value.strip():
                raise ProtocolError(
                    BAD_REQUEST, f"field 'job.masks.{name}' is empty (name the object, e.g. 'the glass')", w + name
                )
            texts[name] = value.strip() if value is not None else None
        threshold = get_field(d, "threshold", float, required=False, min_value=0.0, where=w)
        if threshold is not None and not 0.0 <= threshold < 1.0:
            raise ProtocolError(
                BAD_REQUEST, f"field 'job.masks.threshold' must be in [0, 1), got {threshold}", "job.masks.threshold"
            )
        masks = cls(
            mode=mode,
            keyframes=tuple(sorted(keyframes)),
            points=tuple(points),
            instruction=instruction.strip() if instruction is not None else None,
            threshold=None if threshold is None else float(threshold),
            dilate_px=get_field(d, "dilate_px", int, required=False, min_value=0, max_value=1000, where=w),
            **paths,
            **texts,
        )
        masks.check()
        return masks

    def check(self) -> None:
        """The mode's rules: which fields it needs and which it refuses (errors name the field)."""

        def refuse(*names: str) -> None:
            for name in names:
                value = getattr(self, name)
                if value not in (None, ()):
                    raise ProtocolError(
                        BAD_REQUEST,
                        f"field 'job.masks.{name}' does not belong to mask mode '{self.mode}'",
                        f"job.masks.{name}",
                    )

        def need(name: str, why: str) -> None:
            if getattr(self, name) in (None, (), ""):
                raise ProtocolError(BAD_REQUEST, f"field 'job.masks.{name}' is required: {why}", f"job.masks.{name}")

        if self.mode == MASK_TEXT:
            # key frames here are the frames SAM3 searches; affected mattes join the found region
            need("remove_text", "mask mode 'text' names the object to remove, e.g. 'the glass'")
            refuse("quadmask", "remove", "roto", "points")
            return
        refuse("remove_text", "affected_text")
        if self.roto is not None and not self.keyframes:
            need("keyframes", "a roto is read only on its key frames")
        if self.keyframes and self.roto is None:
            need("roto", "key frames name frames of a roto sequence")
        if self.affected is not None and self.remove is None:
            need("remove", "affected mattes go with remove mattes")
        prompts = self.roto is not None or bool(self.points)
        if self.mode == MASK_QUADMASK:
            need("quadmask", "mask mode 'quadmask' reads a ready quadmask sequence")
            refuse("remove", "affected", "roto", "keyframes", "points", "instruction")
        elif self.mode == MASK_MATTES:
            need("remove", "mask mode 'mattes' reads remove mattes on every frame")
            refuse("quadmask", "roto", "keyframes", "points", "instruction")
        elif self.mode == MASK_PROPAGATE:
            if not prompts:
                need("roto", "mask mode 'propagate' needs a roto on key frames or click points")
            refuse("quadmask", "remove", "affected", "instruction")
        else:
            need("instruction", "mask mode 'reason' asks the reasoner what else the object affected")
            refuse("quadmask")
            if prompts == (self.remove is not None):
                raise ProtocolError(
                    BAD_REQUEST,
                    "mask mode 'reason' needs exactly one remove source: 'job.masks.roto'"
                    "/'points' or 'job.masks.remove'",
                    "job.masks.roto",
                )


@dataclass(frozen=True)
class JobSpec:
    """What to do: which plate, which mask, what prompt, where results go.

    The mask is ``masks`` (any of the four modes, :class:`JobMasks`) or, as before, exactly one
    of ``quadmask`` or ``remove`` (with optional ``affected``); never both kinds.
    Paths are sequence patterns (``shot.####.exr``). When ``upload`` is set the patterns name
    files of that by-value upload and ``out`` is ignored (results stay in the engine's store).
    ``pass2`` asks for VOID's second (refinement) pass after the first.
    """

    plate: str
    frames: tuple[int, ...]
    prompt: str
    out: str | None = None
    quadmask: str | None = None
    remove: str | None = None
    affected: str | None = None
    backend: str | None = None
    seed: int = 0
    steps: int | None = None
    name: str | None = None
    job_key: str | None = None
    priority: int = 0
    upload: str | None = None
    masks: JobMasks | None = None
    pass2: bool = False

    def to_wire(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["frames"] = list(self.frames)
        d["masks"] = self.masks.to_wire() if self.masks is not None else None
        # Left out when off, so a plain job reads exactly as before (older engines accept it).
        d["pass2"] = True if self.pass2 else None
        return {k: v for k, v in d.items() if v is not None}

    def mask_spec(self) -> JobMasks:
        """The job's mask as a :class:`JobMasks`, whether it came as ``masks`` or the older fields."""
        if self.masks is not None:
            return self.masks
        if self.quadmask is not None:
            return JobMasks(mode=MASK_QUADMASK, quadmask=self.quadmask)
        return JobMasks(mode=MASK_MATTES, remove=self.remove, affected=self.affected)

    @classmethod
    def from_wire(cls, d: Any, *, max_frames: int = 100_000, max_path: int = 4096) -> "JobSpec":
        """Validate a wire map into a JobSpec; errors name the field (``job.plate`` ...)."""
        check_map(d, "job", (f.name for f in dataclasses.fields(cls)))
        w = "job."
        frames = get_field(d, "frames", list, max_len=max_frames, where=w)
        if not frames:
            raise ProtocolError(BAD_REQUEST, "field 'job.frames' names no frames", "job.frames")
        for i, f in enumerate(frames):
            if not _is_int(f) or not -(10**8) < f < 10**8:
                raise ProtocolError(
                    BAD_REQUEST, f"field 'job.frames[{i}]' must be a frame number, got {f!r:.40}", "job.frames"
                )
        if len(set(frames)) != len(frames):
            raise ProtocolError(BAD_REQUEST, "field 'job.frames' names a frame twice", "job.frames")
        masks = d.get("masks")
        spec = cls(
            plate=get_field(d, "plate", str, max_len=max_path, where=w),
            frames=tuple(sorted(frames)),
            prompt=get_field(d, "prompt", str, max_len=4096, where=w),
            out=get_field(d, "out", str, required=False, max_len=max_path, where=w),
            quadmask=get_field(d, "quadmask", str, required=False, max_len=max_path, where=w),
            remove=get_field(d, "remove", str, required=False, max_len=max_path, where=w),
            affected=get_field(d, "affected", str, required=False, max_len=max_path, where=w),
            backend=get_field(d, "backend", str, required=False, max_len=64, where=w),
            seed=get_field(d, "seed", int, required=False, default=0, min_value=0, max_value=2**63 - 1, where=w),
            steps=get_field(d, "steps", int, required=False, min_value=1, max_value=1000, where=w),
            name=get_field(d, "name", str, required=False, max_len=200, where=w),
            job_key=get_field(d, "job_key", str, required=False, max_len=_ID_MAX, where=w),
            priority=get_field(d, "priority", int, required=False, default=0, min_value=-1000, max_value=1000, where=w),
            upload=get_field(d, "upload", str, required=False, max_len=_ID_MAX, where=w),
            masks=None if masks is None else JobMasks.from_wire(masks, frames, max_path=max_path),
            pass2=get_field(d, "pass2", bool, required=False, default=False, where=w),
        )
        for label in ("plate", "quadmask", "remove", "affected", "out"):
            value = getattr(spec, label)
            if value is not None and (not value or "\x00" in value):
                raise ProtocolError(
                    BAD_REQUEST, f"field 'job.{label}' must be a non-empty path without NUL", f"job.{label}"
                )
        if spec.masks is not None:
            for label in ("quadmask", "remove", "affected"):
                if getattr(spec, label) is not None:
                    raise ProtocolError(
                        BAD_REQUEST,
                        f"give the mask either as 'job.masks' or as 'job.{label}', not both",
                        f"job.{label}",
                    )
        else:
            if (spec.quadmask is None) == (spec.remove is None):
                raise ProtocolError(
                    BAD_REQUEST,
                    "give exactly one of 'job.quadmask' or 'job.remove' (or a 'job.masks' map)",
                    "job.quadmask",
                )
            if spec.affected is not None and spec.remove is None:
                raise ProtocolError(BAD_REQUEST, "'job.affected' needs 'job.remove'", "job.affected")
        if spec.upload is None and spec.out is None:
            raise ProtocolError(BAD_REQUEST, "field 'job.out' is required for a job by path", "job.out")
        if spec.name is not None:
            check_safe_name(spec.name, "job.name")
        return spec

    @classmethod
    def from_stored(cls, d: Mapping[str, Any]) -> "JobSpec":
        """Rebuild a spec the engine itself stored (``to_wire`` output), without re-validating."""
        kw = {k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}}
        kw["frames"] = tuple(kw.get("frames", ()))
        m = kw.get("masks")
        if isinstance(m, Mapping):
            kw["masks"] = JobMasks(
                **{
                    **m,
                    "keyframes": tuple(m.get("keyframes", ())),
                    "points": tuple(ClickPoint(**p) for p in m.get("points", ())),
                }
            )
        return cls(**kw)


@dataclass(frozen=True)
class Event:
    """One progress event of a job, in journal order (``seq`` counts from 1 per job).

    kind: ``state`` (``state`` set), ``stage`` (``stage`` set: resolve, masks [mask-read,
    propagate, reason], read, model (pass 1), pass2, write), ``step`` (``window``/``step``/
    ``total`` set; after a ``pass2`` stage event they count pass 2's steps) or ``log``
    (``message``: e.g. why the reasoning stage was skipped).
    """

    job: str
    seq: int
    kind: str
    ts: float = 0.0
    state: str | None = None
    stage: str | None = None
    window: int | None = None
    step: int | None = None
    total: int | None = None
    message: str | None = None
    output: str | None = None

    @property
    def terminal(self) -> bool:
        return self.kind == "state" and self.state in TERMINAL_STATES

    def to_wire(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "Event":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class JobStatus:
    """A job as the journal holds it."""

    job: str
    state: str
    attempts: int = 0
    created: float = 0.0
    updated: float = 0.0
    error: str | None = None
    output: str | None = None  # output sequence pattern once done
    frames: tuple[int, ...] = ()
    last_seq: int = 0
    spec: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["frames"] = list(self.frames)
        return d

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> "JobStatus":
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["frames"] = tuple(kw.get("frames") or ())
        return cls(**kw)


def events_from_wire(items: Iterable[Mapping[str, Any]]) -> list[Event]:
    return [Event.from_wire(e) for e in items]
