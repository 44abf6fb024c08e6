"""What can go wrong, and how to say it to an artist (which node or frame, and what to do)."""

from __future__ import annotations

import re

from bridge.client import EngineUnavailable
from bridge.protocol import BAD_FRAME, BAD_REQUEST, BUSY, NOT_FOUND, TOO_LARGE, UNAUTHORISED, ProtocolError


class SetupError(ValueError):
    """The selection or the panel's settings cannot make a job; the text is for the artist."""


_MISSING_FRAME = re.compile(r"job\.(?:masks\.)?(\w+)'?: frame (-?\d+) is missing \((.+)\)")
_ROLE_WORDS = {
    "plate": "plate",
    "remove": "remove matte",
    "affected": "affected matte",
    "quadmask": "quadmask",
    "roto": "roto (key frame)",
    "out": "output folder",
}


def artist_message(exc: BaseException, address: str = "", address_hint: str = "the address in the panel") -> str:
    """One or two sentences for ``nuke.message``: what happened and what to do about it.
    ``address_hint`` says where the engine address was given (the panel, or batch's flag)."""
    if isinstance(exc, SetupError):
        return str(exc)
    if isinstance(exc, EngineUnavailable):
        return (
            f"VOID can't reach the engine at {address or 'the configured address'}.\n"
            f"Check that it is running (void-engine serve) and that {address_hint} is right."
        )
    if isinstance(exc, ProtocolError):
        text = exc.message
        m = _MISSING_FRAME.search(text)
        if exc.code == NOT_FOUND and m:
            role = _ROLE_WORDS.get(m.group(1), m.group(1))
            return (
                f"Frame {m.group(2)} of the {role} is missing ({m.group(3)}).\n"
                "Render or copy that frame, or shorten the frame range."
            )
        if exc.code == UNAUTHORISED:
            return (
                "The engine is not allowed to use these files: " + text + "\n"
                "Ask your TD to add the folder to the engine's roots, or choose 'by value' for frames."
            )
        if exc.code == BUSY:
            return "The engine's queue is full. Try again in a few minutes."
        if exc.code == TOO_LARGE:
            return f"The shot is too large to send to the engine ({text}). Shorten the frame range."
        if exc.code in (BAD_REQUEST, BAD_FRAME):
            return f"The engine refused the job: {text}"
        return f"The engine reported a problem: {text}"
    return f"VOID failed: {type(exc).__name__}: {exc}"


def failed_job_message(job: str, error: str | None) -> str:
    """The message for a job the engine ran and failed; engine errors already name file/frame."""
    detail = (error or "no reason given").strip()
    hint = ""
    low = detail.lower()
    if "quadmask" in low or "matte" in low:
        hint = "\nCheck the roto: it must cover the object on every frame of the range."
    elif "frame" in low or "plate" in low:
        hint = "\nCheck the plate frames named above."
    return f"VOID could not finish job {job}:\n{detail}{hint}"
