"""The HTTP side: a request parsed, verified and dispatched to its operation, and the
answer - success or error - sent in the gateway's shape (spec 2.6, 7)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from opscenter import secrets
from opscenter.backends.dataworks.client import NOT_FOUND
from opscenter.backends.dataworks.emulator.auth import Verifier
from opscenter.backends.dataworks.emulator.operations import Operations
from opscenter.backends.dataworks.emulator.wire import (
    V2020,
    V2024,
    ApiFailure,
    Incoming,
    Params,
    error_body,
    missing,
)
from opscenter.backends.local import LocalBackend
from opscenter.domain.records import ActionRefused, NotFound

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
BACKLOG = 128  # connections the kernel may queue before they are accepted
READ_TIMEOUT = 15.0  # seconds a connection may stay silent (idle or mid-request)
WORKERS = 32  # connections served at once; more wait their turn in the pool's queue
ENV_KEY_ID = "OPSCENTER_EMULATOR_ACCESS_KEY_ID"
ENV_KEY_SECRET = "OPSCENTER_EMULATOR_ACCESS_KEY_SECRET"
# what `emulate` keeps, out of its environment and command line (opscenter.secrets)
KEPT = secrets.Kept(
    frozenset({ENV_KEY_ID, ENV_KEY_SECRET}), {"--access-key-secret": ENV_KEY_SECRET}
)
FORM = "application/x-www-form-urlencoded"


class Emulator:
    """Turns one received request into (HTTP status, JSON answer)."""

    def __init__(self, backend: LocalBackend, verifier: Verifier) -> None:
        self.operations = Operations(backend)
        self.verifier = verifier

    def answer(self, request: Incoming, host: str) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()
        try:
            body = self._dispatch(request)
        except ApiFailure as failure:
            return failure.status, error_body(request_id, host, failure.code, failure.message)
        except NotFound as absent:
            return 404, error_body(request_id, host, NOT_FOUND, absent.reason)
        except ActionRefused as refused:
            return 400, error_body(request_id, host, "OperationDenied", refused.reason)
        except Exception:
            log.exception("request %s failed", request_id)
            message = "The request processing has failed due to some unknown error."
            return 500, error_body(request_id, host, "InternalError.System", message)
        return 200, {"RequestId": request_id, **body}

    def _dispatch(self, request: Incoming) -> dict[str, Any]:
        params = request.params
        action = request.headers.get("x-acs-action") or params.get("Action")
        version = request.headers.get("x-acs-version") or params.get("Version")
        if not action:
            raise missing("Action")
        if not version:
            raise missing("Version")
        if version not in (V2024, V2020):
            raise ApiFailure(400, "NoSuchVersion", f"Specified api version {version} is not valid.")
        self.verifier.verify(request)
        operation = self.operations.table.get((version, action))
        if operation is None:
            raise ApiFailure(
                404, "InvalidApi.NotFound", f"Specified api {action} is not found in {version}."
            )
        return operation(Params(params))


def parse_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Incoming:
    """Query and form body decoded (form only when the content type says so)."""
    parts = urlsplit(target)
    if parts.path not in ("", "/"):
        raise ApiFailure(404, "InvalidApi.NotFound", f"Specified path {parts.path} is not found.")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    form: dict[str, str] = {}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if body:
        if content_type != FORM:
            raise ApiFailure(
                400, "InvalidParameter", f"Unsupported content type {content_type or 'none'!r}."
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiFailure(400, "InvalidParameter", "The body is not UTF-8.") from None
        form = dict(parse_qsl(text, keep_blank_values=True))
    return Incoming(method, query, form, dict(headers), body)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)  # idle or mid-request

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def __getattr__(self, name: str) -> Any:
        """Any other method (PUT, DELETE, ...) is refused in the gateway's error shape."""
        if name.startswith("do_"):
            return self._unsupported
        raise AttributeError(name)

    def _unsupported(self) -> None:
        self.close_connection = True
        request_id = str(uuid.uuid4()).upper()
        message = f"HTTP method {self.command} is not supported; use GET or POST."
        host = self.headers.get("host", "")
        self._send(405, error_body(request_id, host, "UnsupportedHTTPMethod", message))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, a header too long) in the
        gateway's JSON error shape rather than its HTML page."""
        self.close_connection = True
        request_id = str(uuid.uuid4()).upper()
        host = self.headers.get("host", "") if getattr(self, "headers", None) else ""
        text = message or self.responses.get(code, ("Bad request",))[0]
        self._send(code, error_body(request_id, host, "InvalidRequest", text))

    def _serve(self) -> None:
        host = self.headers.get("host", "")
        try:
            body = self._body()
            request = parse_request(self.command, self.path, self._headers(), body)
            status, answer = self.server.emulator.answer(request, host)
        except ApiFailure as failure:
            request_id = str(uuid.uuid4()).upper()
            status = failure.status
            answer = error_body(request_id, host, failure.code, failure.message)
        self._send(status, answer)

    def _body(self) -> bytes:
        length = self.headers.get("content-length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            raise ApiFailure(400, "InvalidParameter", f"Bad Content-Length {length!r}.")
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            raise ConnectionAbortedError("the client closed the connection mid-body")
        return body

    def _headers(self) -> dict[str, str]:
        merged: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            merged.setdefault(name.lower(), []).append(value.strip())
        return {name: ",".join(values) for name, values in merged.items()}

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-acs-request-id", str(answer.get("RequestId", "")))
        if self.server.crowded():  # free this worker for a connection that is waiting
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class EmulatorServer(HTTPServer):
    """An HTTP server that hands every request to one Emulator.

    Connections are served by a bounded pool of worker threads (``workers``); one silent
    for ``read_timeout`` seconds, idle or mid-request, is closed, and while connections
    wait for a worker each answer closes its keep-alive connection. A client that goes
    away is logged without a traceback.
    """

    request_queue_size = BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        *,
        read_timeout: float = READ_TIMEOUT,
        workers: int = WORKERS,
    ) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.read_timeout = read_timeout
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="emulator")
        self._lock = threading.Lock()
        self._waiting = 0  # accepted connections no worker has taken yet
        self._open: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._waiting += 1
            self._open.add(request)
        self._pool.submit(self._work, request, client_address)

    def _work(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._waiting -= 1
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def crowded(self) -> bool:
        """Whether accepted connections are waiting for a worker."""
        with self._lock:
            return self._waiting > 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.info("%s: the connection ended: %s", client_address, error)
        else:
            log.exception("%s: the connection failed", client_address)

    def server_close(self) -> None:
        """Stop listening and end open connections, so no worker outlives the server."""
        super().server_close()
        with self._lock:
            still_open = list(self._open)
        for request in still_open:
            with contextlib.suppress(OSError):  # it may have just ended by itself
                request.shutdown(socket.SHUT_RDWR)
        self._pool.shutdown(wait=False)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]  # an AF_INET server: host is a str
        return f"http://{host!s}:{port}"


def credentials_from(
    key_id: str | None, secret: str | None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The access key the emulator accepts: options first, then the environment (by
    default as ``opscenter.secrets`` holds it, out of this process's own environment)."""
    env = secrets.environment() if environ is None else environ
    key_id = key_id or env.get(ENV_KEY_ID)
    secret = secret or env.get(ENV_KEY_SECRET)
    if not key_id or not secret:
        raise ValueError(
            "the emulator needs an access key to verify signatures: pass --access-key-id and "
            f"--access-key-secret, or set {ENV_KEY_ID} and {ENV_KEY_SECRET}"
        )
    return {key_id: secret}


def serve(
    backend: LocalBackend,
    credentials: Mapping[str, str],
    host: str,
    port: int,
    say: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT or SIGTERM (the verb ``opscenter emulate``)."""
    server = EmulatorServer((host, port), Emulator(backend, Verifier(credentials)))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    say(f"DataWorks API emulator for workspace {backend.workspace().name} on {server.url}")
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
