"""Which matte is which: the convention an artist uses to mark "remove" and "affected".

A mask tool (Fusion) or a clip matte (Edit page) is the **remove** matte when its name has the
word ``remove`` in it (``remove``, ``Remove_car``, ``VOID_remove``) or its comments hold the tag
``void:remove``; likewise ``affected`` / ``void:affected`` for the optional matte of what the
object did to the scene (shadow, reflection). Exactly one remove matte is required.

A remove matte drawn on a few **key frames** only (the engine propagates it over the range with
SAM2, mask mode "propagate") is marked ``void:keyframes 1001,1040`` in a Fusion mask's comments;
on the Edit page a clip matte whose name has the word ``keys`` or ``keyframes`` in it
(``remove_keys.1001.exr``) is one, and its key frames are the frames it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from bridge.sequences import parse_frame_list

REMOVE = "remove"
AFFECTED = "affected"
ROLES = (REMOVE, AFFECTED)

T = TypeVar("T")


class MaskError(ValueError):
    """No usable remove matte, or an ambiguous one; the message says what to do."""


def role_of(name: str, comments: str = "") -> str | None:
    """``remove``, ``affected`` or None for a matte called ``name`` with ``comments``."""
    tags = re.findall(r"void\s*:\s*([a-z]+)", comments.lower())
    for role in ROLES:
        if role in tags:
            return role
    words = re.findall(r"[a-z]+", name.lower())
    for role in ROLES:
        if role in words:
            return role
    return None


# The frames are bridge.sequences' frame list; an "x" counts only as a step ("1001-1097x8").
_KEYFRAMES_TAG = re.compile(r"void\s*:\s*key\s*frames?\s*[=:]?\s*((?:[-0-9,\s]|x(?=\s*[0-9]))+)")
KEYFRAME_WORDS = ("keys", "keyframes")


def keyframes_tag(comments: str) -> tuple[int, ...]:
    """Key frames from a ``void:keyframes 1001,1040`` tag; () when there is none.

    Raises MaskError naming the tag when its frames cannot be read.
    """
    m = _KEYFRAMES_TAG.search(comments.lower())
    if not m:
        return ()
    try:
        return tuple(parse_frame_list(m.group(1).strip()))
    except ValueError as exc:
        raise MaskError(f'Cannot read the key frames in "{m.group(0).strip()}": {exc}') from None


def is_keyframe_roto(name: str) -> bool:
    """Whether a clip matte's file name marks it as a roto on key frames only."""
    return any(w in KEYFRAME_WORDS for w in re.findall(r"[a-z]+", name.lower()))


@dataclass(frozen=True)
class Tagged(Generic[T]):
    """A candidate matte: the host object, its name (for messages) and its role."""

    item: T
    name: str
    role: str | None


@dataclass(frozen=True)
class MaskPick(Generic[T]):
    remove: Tagged[T]
    affected: Tagged[T] | None


def pick_masks(candidates: Sequence[Tagged[T]], where: str, how_to_mark: str) -> MaskPick[T]:
    """The remove matte (and the affected one, if any) among ``candidates``.

    ``where`` names what was searched ("this comp"); ``how_to_mark`` tells the artist how to
    mark one. Raises MaskError when there is no remove matte or more than one of a role.
    """
    by_role: dict[str, list[Tagged[T]]] = {r: [c for c in candidates if c.role == r] for r in ROLES}
    removes = by_role[REMOVE]
    if not removes:
        seen = ", ".join(c.name for c in candidates) or "none"
        raise MaskError(f'No mask marked "remove" in {where} (masks found: {seen}). {how_to_mark}')
    for role in ROLES:
        if len(by_role[role]) > 1:
            names = ", ".join(c.name for c in by_role[role])
            raise MaskError(f'Several masks are marked "{role}" in {where} ({names}); keep one.')
    affected = by_role[AFFECTED]
    return MaskPick(removes[0], affected[0] if affected else None)


def safe_name(text: str, fallback: str = "plate") -> str:
    """A job/output name the engine accepts: letters, digits, ``_.-``; starts with a letter/digit."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("._-")
    return (name or fallback)[:80]


def next_version_name(base: str, existing: Sequence[str]) -> str:
    """``<base>_void_v001``, or the next free number after those in ``existing``."""
    rx = re.compile(re.escape(base) + r"_void_v(\d+)$")
    matches = (rx.match(n) for n in existing)  # no walrus: Resolve may run Python 3.7
    taken = [int(m.group(1)) for m in matches if m]
    return f"{base}_void_v{max(taken, default=0) + 1:03d}"
