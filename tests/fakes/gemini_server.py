"""A local fake of the Gemini API's generateContent endpoint, on 127.0.0.1.

Tests reach it through google-genai's own client (``HttpOptions(base_url=fake.base_url)``), so
the SDK's real request building, retries and timeouts are exercised. Replies are scripted in
order; every request is recorded (path, headers, JSON body) for assertions.

    with FakeGemini() as fake:
        fake.reply_error(429)
        fake.reply_json({"integral_belongings": [], ...})
        ...  # client with base_url=fake.base_url
        assert fake.requests[-1].path.endswith(":generateContent")
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_STATUS = {
    400: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON

    def texts(self) -> list[str]:
        """All text parts of the request's contents."""
        return [p["text"] for c in self.body.get("contents", []) for p in c.get("parts", []) if "text" in p]

    def images(self) -> list[tuple[str, bytes]]:
        """All inline parts of the request's contents as (mime type, decoded bytes).

        The API accepts camelCase or snake_case keys and either base64 alphabet; the SDK sends
        ``inline_data``/``mime_type`` and URL-safe base64, so both are read here.
        """
        out = []
        for c in self.body.get("contents", []):
            for p in c.get("parts", []):
                blob = p.get("inlineData") or p.get("inline_data")
                if blob is None:
                    continue
                mime = blob.get("mimeType") or blob.get("mime_type")
                data = blob["data"]
                data += "=" * (-len(data) % 4)
                data = data.replace("+", "-").replace("/", "_")
                out.append((mime, base64.urlsafe_b64decode(data)))
        return out


@dataclass
class _Reply:
    status: int
    body: bytes
    delay_s: float = 0.0


class FakeGemini:
    """Scripted fake; unscripted requests get HTTP 500 with a message saying so."""

    def __init__(self, model_version: str = "fake-gemini"):
        self.model_version = model_version
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ------------------------------------------------------------------------
    def reply_text(self, text: str, *, delay_s: float = 0.0, finish_reason: str = "STOP") -> None:
        """A candidate whose single part is ``text`` (what the model said)."""
        body = {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish_reason, "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 20},
            "modelVersion": self.model_version,
        }
        self._push(_Reply(200, json.dumps(body).encode(), delay_s))

    def reply_json(self, obj: Any, *, delay_s: float = 0.0) -> None:
        """A structured answer: ``obj`` serialised as the model's text."""
        self.reply_text(json.dumps(obj), delay_s=delay_s)

    def reply_error(self, status: int, message: str = "fake error", *, delay_s: float = 0.0) -> None:
        body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
        self._push(_Reply(status, json.dumps(body).encode(), delay_s))

    def _push(self, reply: _Reply) -> None:
        with self._lock:
            self._script.append(reply)

    def _next(self) -> _Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return _Reply(
            500,
            json.dumps({"error": {"code": 500, "status": "INTERNAL", "message": "fake: no scripted reply"}}).encode(),
        )

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeGemini":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw
                with fake._lock:
                    fake.requests.append(
                        RecordedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                reply = fake._next()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # a short poll interval: stop() waits for the loop to notice, once per test
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-gemini", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeGemini":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
