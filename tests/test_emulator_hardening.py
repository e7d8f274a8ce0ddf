"""The emulator under hostile or careless clients, over real HTTP on 127.0.0.1: bad input
is a 4xx in the gateway's error shape (never a 500), and idle, slow or vanishing
connections cannot pile up threads or print tracebacks (issue 18, must-have 5)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from opscenter.backends.dataworks.emulator import Emulator, EmulatorServer, Verifier
from opscenter.backends.local import LocalBackend
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import (
    KEY_ID,
    SECRET,
    WORKSPACE,
    assert_error,
    send,
    v3_request,
)

DEADLINE = 5.0  # generous: every wait below ends as soon as its condition holds


class Watched(EmulatorServer):
    """An EmulatorServer that counts accepted and finished connections, so a test can wait
    on the server having taken (or let go of) a socket instead of sleeping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = threading.Condition()
        self.accepted = 0
        self.finished = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.changed:
            self.accepted += 1
            self.changed.notify_all()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.changed:
            self.finished += 1
            self.changed.notify_all()

    def wait(self, condition: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, DEADLINE), "the server never got there"


@pytest.fixture
def scene(world: MakeWorld) -> World:
    w = world(WORKSPACE).start()
    w.go(at(2))
    return w


@contextmanager
def running(scene: World, **options: Any) -> Iterator[Watched]:
    backend = LocalBackend(scene.store, "ws", scene.clock, user="alice", source="emulator")
    httpd = Watched(("127.0.0.1", 0), Emulator(backend, Verifier({KEY_ID: SECRET})), **options)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(DEADLINE)


@pytest.fixture
def server(scene: World) -> Iterator[Watched]:
    with running(scene) as httpd:
        yield httpd


def connect(server: EmulatorServer) -> socket.socket:
    host, port = server.server_address[:2]
    return socket.create_connection((str(host), port), timeout=DEADLINE)


# -- bad signatures are 400, not 500 ---------------------------------------------------------


def test_a_non_ascii_v2_signature_does_not_match(server: Watched, scene: World) -> None:
    query = {
        "Action": "ListTasks",
        "Version": "2024-05-18",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "SignatureNonce": "n-1",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": KEY_ID,
        "ProjectId": str(scene.workspace_id),
        "Signature": "é",
    }
    response = httpx.post(f"{server.url}/?{urlencode(query)}")
    assert_error(response, 400, "SignatureDoesNotMatch")


def test_a_non_ascii_acs3_signature_does_not_match(server: Watched, scene: World) -> None:
    signed = v3_request(server.url, "ListTasks", query={"ProjectId": str(scene.workspace_id)})
    headers = [(k.encode(), v.encode()) for k, v in signed.headers.items() if k != "authorization"]
    fields = signed.headers["authorization"].rpartition("Signature=")[0]
    headers.append((b"authorization", f"{fields}Signature=é".encode()))
    forged = httpx.Request("POST", signed.url, headers=headers)
    assert_error(send(forged), 400, "SignatureDoesNotMatch")


# -- deep JSON is refused before it can exhaust the stack -------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("action", "field", "extra"),
    [
        ("ListTasks", "Ids", {}),
        ("BatchUpdateTasks", "Tasks", {}),
        ("UpdateTask", "Trigger", {"Id": "1"}),
        (
            "CreateWorkflowInstances",
            "Periods",
            {"Type": "SupplementData", "Name": "x", "WorkflowId": "1"},
        ),
    ],
)
def test_a_form_field_nested_100000_deep_is_an_invalid_parameter(
    server: Watched, scene: World, action: str, field: str, extra: dict[str, str]
) -> None:
    form = {"ProjectId": str(scene.workspace_id), **extra, field: nested(100_000)}
    response = send(v3_request(server.url, action, body=urlencode(form).encode()))
    body = assert_error(response, 400, "InvalidParameter")
    assert field in body["Message"]


def test_modest_nesting_is_still_read(server: Watched, scene: World) -> None:
    form = {"ProjectId": str(scene.workspace_id), "Ids": "[1, 2]"}
    response = send(v3_request(server.url, "ListTasks", body=urlencode(form).encode()))
    assert response.status_code == 200, response.json()


# -- connections: backlog, idle timeout, bounded pool, quiet disconnects ---------------------


def test_the_listen_backlog_is_at_least_128(server: Watched) -> None:
    assert server.request_queue_size >= 128


def test_an_idle_connection_is_closed_after_the_read_timeout(scene: World) -> None:
    with running(scene, read_timeout=0.5) as server, connect(server) as idle:
        started = time.monotonic()
        assert idle.recv(1) == b""  # the server hung up (a timeout here raises instead)
        assert time.monotonic() - started < DEADLINE


def test_idle_sockets_hold_no_more_threads_than_the_pool(scene: World) -> None:
    before = threading.active_count()
    with running(scene, workers=4) as server, ExitStack() as stack:
        for _ in range(20):
            stack.enter_context(connect(server))
        server.wait(lambda: server.accepted == 20)
        assert threading.active_count() - before <= 1 + 4  # serve_forever + the pool
    with running(scene, workers=4) as server:
        answers: list[int] = []

        def call() -> None:
            form = {"ProjectId": str(scene.workspace_id)}
            answers.append(
                send(v3_request(server.url, "ListTasks", body=urlencode(form).encode())).status_code
            )

        callers = [threading.Thread(target=call) for _ in range(12)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(DEADLINE)
        assert answers == [200] * 12


def test_a_client_vanishing_mid_request_leaves_no_traceback(
    server: Watched, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    host = server.url.removeprefix("http://")
    for declared in (100, 0):  # gone while the body is read; gone before the answer is sent
        with connect(server) as client:
            client.sendall(
                f"POST / HTTP/1.1\r\nhost: {host}\r\ncontent-length: {declared}\r\n"
                "content-type: application/x-www-form-urlencoded\r\n\r\nId=".encode()
                if declared
                else f"POST / HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\n\r\n".encode()
            )
            # a reset, not a polite close: the server's next read or write fails
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.wait(lambda: server.finished == server.accepted == 2)
    assert "Traceback" not in capfd.readouterr().err
    assert not [r for r in caplog.records if r.exc_info]
