"""HTTP serving of the fake Neon server: lifecycle, request dispatch and the request handler."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.neon_fake_models import (
    _ERROR_CODES,
    API_PREFIX,
    DROPPED,
    RecordedRequest,
    _ApiError,
)

if TYPE_CHECKING:
    from tests.fakes.neon_server import FakeNeon


class _HttpServing:
    """FakeNeon's server lifecycle and the dispatch of each request it receives."""

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving on an OS-chosen port; return the API base URL."""
        if self._server is not None:
            return self.base_url
        handler = type("FakeNeonHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-neon", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop the server (slow answers in progress are cut short)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeNeon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeNeon is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    # ---- request handling (called by the handler thread) -------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Return (status, JSON body or None, extra headers) for one request."""
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix(API_PREFIX)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        authorized = headers.get("authorization") == f"Bearer {self.api_key}"
        body: Any = None
        body_ok = True
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body_ok = False
        extra = {"X-Request-Id": request_id}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, request_id, authorized))
            if not authorized:
                return 401, self._error_body(401, "authorization failed", request_id), extra
            failure = self._take_failure(method, path)
            rejected_early = failure is not None and not failure.after_processing
            delay = None if rejected_early else self._take_delay(method, path)
        if failure is not None and not failure.after_processing:
            return self._failure_answer(failure, request_id, extra)
        if not body_ok:
            return 400, self._error_body(400, "request body is not valid JSON", request_id), extra
        try:
            with self._lock:
                status, payload = self._route(method, path, query, body)
        except _ApiError as exc:
            status = exc.status
            payload = self._error_body(exc.status, exc.message, request_id, exc.code)
        if delay is not None:
            self._stopping.wait(delay.seconds)
        if failure is not None:
            return self._failure_answer(failure, request_id, extra)
        return status, payload, extra

    @staticmethod
    def _error_body(
        status: int, message: str, request_id: str, code: str | None = None
    ) -> dict[str, str]:
        return {
            "code": code if code is not None else _ERROR_CODES.get(status, "ERROR"),
            "message": message,
            "request_id": request_id,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeNeon
    protocol_version = "HTTP/1.1"
    timeout = 10
    # One buffered write per answer and no Nagle delay: answers take microseconds, not 40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.fake.handle(self.command, self.path, headers, raw_body)
        if status == DROPPED:
            self.close_connection = True  # no answer at all: the client sees the line drop
            return
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); nothing to answer

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""
