"""Outside failures (issue 7.3): the world around the scheduler and the console misbehaves.

A node's process killed from outside, a full disk under the run logs (the attempt's log is
/dev/full, a real device that answers every write with ENOSPC), the DuckDB warehouse locked
by another process, a webhook that is down, refuses or hangs up, and a DataWorks endpoint
answering 5xx, 429, garbage, or too slowly (a real HTTP server on 127.0.0.1 in front of the
API emulator). Each ends in a state and a message an operator can act on, and the rest of
the world goes on: the scheduler runs every other node on time, the console keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import Credentials, DataWorksClient, RetryPolicy
from opscenter.backends.dataworks.emulator import EmulatorServer
from opscenter.backends.dataworks.legacy import LegacyBackend
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, InstanceFilter
from opscenter.tui.app import OpsApp
from tests import test_dataworks_emulator as emulated
from tests.conftest import write_workspace
from tests.harness import MakeWorld, World, at
from tests.processes import start_scheduler
from tests.test_alerts import QuietServer, closed_port_url, webhook
from tests.test_dataworks_emulator import make
from tests.tui.helpers import settle

scene = emulated.scene  # the emulator's world (a real engine on a manual clock) and server
server = emulated.server

# -- a node's process killed from outside -------------------------------------------------------


def test_a_node_process_killed_from_outside_fails_that_attempt_only(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: victim, type: shell, rerun_times: 1, rerun_interval: 0,
             trigger: {cron: "00 00 02 * * ?"},
             code: '[ "$OPSCENTER_ATTEMPT" -ge 2 ] && exit 0; echo "crunching numbers"; sleep 30'}
          - {name: after_victim, type: virtual, depends: [victim],
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: bystander, type: shell, code: "sleep 0.5", trigger: {cron: "00 00 02 * * ?"}}
          - {name: after, type: virtual, depends: [bystander], trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.wait_for(lambda: bool(w.attempts("victim")) and w.attempts("victim")[0].pid is not None)
    w.wait_for(lambda: "crunching" in w.log("victim"))
    os.killpg(w.attempts("victim")[0].pid, signal.SIGKILL)  # an OOM killer, an admin's kill -9
    w.idle()
    first, second = w.attempts("victim")
    assert first.status is Status.FAILURE
    assert first.reason == "terminated by SIGKILL: crunching numbers"
    assert "failed: terminated by SIGKILL after" in w.log("victim", 1)
    assert (second.status, second.triggered_by) == (Status.SUCCESS, "auto rerun 1/1")
    assert [w.status(n) for n in ("victim", "after_victim", "bystander", "after")] == [
        Status.SUCCESS
    ] * 4


# -- a full disk under the run logs --------------------------------------------------------------

FULL = Path("/dev/full")


def data(w: World) -> Path:
    """The folder of the warehouse, the landing folder and the run logs."""
    return Path(w.store.url.database).parent / "data"


def log_path(w: World, node: str, attempt: int) -> Path:
    """Where the attempt's run log will be (the scheduler's layout: logs/bizdate/)."""
    info = w.instance(node)
    return data(w) / "logs" / f"{info.bizdate:%Y%m%d}" / f"{node}.{info.id}.{attempt}.log"


def full_disk_at(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(FULL)


def test_a_full_disk_fails_the_attempt_that_cannot_log_and_nothing_else(world: MakeWorld) -> None:
    """No room for an attempt's log: it fails without running, saying so, and its auto rerun
    runs once there is room again; the other nodes run on time meanwhile."""
    w = world(
        """
        nodes:
          - {name: noisy, type: shell, code: "echo lots of output", rerun_times: 1,
             rerun_interval: 60, trigger: {cron: "00 00 02 * * ?"}}
          - {name: report, type: sql, code: "SELECT 42", rerun_times: 1, rerun_interval: 60,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: bystander, type: shell, code: "echo fine", trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    for node in ("noisy", "report"):
        full_disk_at(log_path(w, node, 1))
    w.go(at(2))
    for node in ("noisy", "report"):
        [attempt] = w.attempts(node)
        assert attempt.status is Status.FAILURE
        assert attempt.reason == f"cannot write log {log_path(w, node, 1)}: No space left on device"
        assert w.instance(node).retry_at is not None  # its retry policy applies
    assert w.status("bystander") is Status.SUCCESS
    w.go(at(2, 1))  # the auto rerun: its log is a new file, and there is room now
    for node in ("noisy", "report"):
        assert [a.status for a in w.attempts(node)] == [Status.FAILURE, Status.SUCCESS]


def test_a_disk_that_fills_while_an_attempt_runs_does_not_change_its_outcome(
    world: MakeWorld,
) -> None:
    """The disk fills under a running attempt: the run log cannot take the executor's last
    lines, yet the attempt ends as its process did, and says its log is incomplete."""
    w = world(
        """
        nodes:
          - name: writer
            type: shell
            trigger: {cron: "00 00 02 * * ?"}
            code: |
              echo "started"
              while [ ! -f "$OPSCENTER_LANDING/go" ]; do sleep 0.02; done
              echo "done"
          - name: failer
            type: shell
            trigger: {cron: "00 00 02 * * ?"}
            code: |
              echo "started"
              while [ ! -f "$OPSCENTER_LANDING/go" ]; do sleep 0.02; done
              exit 5
          - {name: after, type: virtual, depends: [writer], trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    logs = {node: log_path(w, node, 1) for node in ("writer", "failer")}
    w.wait_for(lambda: all(p.exists() and "started" in p.read_text() for p in logs.values()))
    for path in logs.values():  # the executor's next line finds the disk full
        path.rename(path.with_suffix(".before"))
        full_disk_at(path)
    (data(w) / "landing" / "go").touch()
    w.idle()
    [writer], [failer] = w.attempts("writer"), w.attempts("failer")
    assert (writer.status, writer.exit_code) == (Status.SUCCESS, 0)
    assert writer.reason == "log incomplete: No space left on device"
    assert (failer.status, failer.exit_code) == (Status.FAILURE, 5)
    assert failer.reason == "exit code 5 (log incomplete: No space left on device)"
    assert w.status("after") is Status.SUCCESS
    before = log_path(w, "writer", 1).with_suffix(".before").read_text()
    assert "started" in before and "starting shell node" in before  # what was written stays


# -- the DuckDB warehouse locked by another process --------------------------------------------

HOLD = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("CREATE TABLE IF NOT EXISTS notes (line VARCHAR)")
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_warehouse_locked_by_another_process_fails_sql_nodes_clearly(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: load, type: sql, rerun_times: 1, rerun_interval: 60,
             code: "CREATE OR REPLACE TABLE sales AS SELECT 1 AS amount",
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: check, type: quality, code: "SELECT * FROM sales WHERE amount < 0",
             depends: [load], trigger: {cron: "00 00 02 * * ?"}}
          - {name: ship, type: shell, code: "echo shipped", trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    warehouse = data(w) / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        w.go(at(2))
        [attempt] = w.attempts("load")
        assert attempt.status is Status.FAILURE
        assert "Could not set lock" in attempt.reason and f"PID {holder.pid}" in attempt.reason
        assert f"cannot open warehouse {warehouse}" in w.log("load", 1)
        assert w.status("check") is Status.NOT_RUN  # it waits; nothing ran on a half state
        assert w.status("ship") is Status.SUCCESS  # shell nodes need no warehouse
    finally:
        holder.stdin.close()  # the analyst closes the session
        holder.wait(timeout=10)
    w.go(at(2, 1))  # the auto rerun
    assert [a.status for a in w.attempts("load")] == [Status.FAILURE, Status.SUCCESS]
    assert w.status("check") is Status.SUCCESS


def succeeded(database: Path, node: str) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(database, timeout=5)) as conn:
            return bool(
                conn.execute(
                    "SELECT COUNT(*) FROM instances i JOIN nodes n ON n.id = i.node_id "
                    "WHERE n.name = ? AND i.status = 'SUCCESS'",
                    (node,),
                ).fetchone()[0]
            )
    except sqlite3.OperationalError:  # not deployed yet
        return False


def test_a_run_history_locked_by_another_process_does_not_stop_the_scheduler(
    tmp_path: Path,
) -> None:
    """Someone opened the scheduler's own DuckDB file (the run history) in a session: the
    scheduler says so, keeps the history in memory, and runs the day."""
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: hist, timezone: UTC}
        nodes:
          - {name: job, type: shell, code: "echo ran", trigger: {cron: "00 00 00 * * ?"}}
        """,
    )
    url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    history = tmp_path / "state" / "history.duckdb"
    history.parent.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(history)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    log = tmp_path / "scheduler.log"
    scheduler = start_scheduler(["--workspace", str(folder), "--db", url], log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert scheduler.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            if succeeded(tmp_path / "state" / "state.db", "job"):
                break
            time.sleep(0.1)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=30)
        holder.stdin.close()
        holder.wait(timeout=10)
    said = log.read_text()
    assert scheduler.returncode == 0 and "Traceback" not in said, said
    assert f"run history {history} is unavailable (IO Error: Could not set lock" in said
    assert f"(PID {holder.pid})" in said and "keeping it in memory" in said


def test_a_run_history_that_cannot_be_written_mid_run_does_not_stop_the_scheduler(
    tmp_path: Path,
) -> None:
    """The run history is created at the first success: when its file cannot be made then
    (a full disk; here a link into a folder that is not there), the scheduler says so, keeps
    the history in memory, and runs the rest of the day."""
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: hist, timezone: UTC}
        nodes:
          - {name: job, type: shell, code: "echo ran", trigger: {cron: "00 00 00 * * ?"}}
          - {name: next, type: shell, code: "echo ran", trigger: {cron: "00 00 00 * * ?"},
             depends: [job]}
        """,
    )
    url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    history = tmp_path / "state" / "history.duckdb"
    history.parent.mkdir()
    history.symlink_to(tmp_path / "gone" / "history.duckdb")
    log = tmp_path / "scheduler.log"
    scheduler = start_scheduler(["--workspace", str(folder), "--db", url], log)
    try:
        deadline = time.monotonic() + 30
        while not succeeded(tmp_path / "state" / "state.db", "next"):
            assert scheduler.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=30)
    said = log.read_text()
    assert scheduler.returncode == 0 and "Traceback" not in said, said
    assert f"run history {history} is unavailable (IO Error" in said
    assert "keeping it in memory, rebuilt from the store" in said


# -- a webhook that is down --------------------------------------------------------------------


def test_a_webhook_that_is_down_is_recorded_and_the_day_goes_on(world: MakeWorld) -> None:
    with webhook((503,)) as unavailable, webhook(hang_up=True) as hangs_up:
        urls = {"down": closed_port_url(), "unavailable": unavailable.url, "hangs_up": hangs_up.url}
        rules = "".join(
            f'  - {{name: {name}, trigger: Error, nodes: [broken], webhook: "{url}"}}\n'
            for name, url in urls.items()
        )
        w = world(
            textwrap.dedent(
                """
                nodes:
                  - {name: broken, type: shell, code: "exit 1", trigger: {cron: "00 00 01 * * ?"}}
                  - {name: next, type: shell, code: "true", trigger: {cron: "00 05 01 * * ?"}}
                  - {name: last, type: shell, code: "true", trigger: {cron: "00 05 01 * * ?"},
                     depends: [next]}
                alerts:
                """
            )
            + rules
        ).start()
        w.engine.sla.notifier.backoff = 0.01
        began = time.monotonic()
        w.go(at(1))
        w.go(at(1, 5))
        assert time.monotonic() - began < 5  # posting never held the scheduler up
        assert (w.status("broken"), w.status("next"), w.status("last")) == (
            Status.FAILURE,
            Status.SUCCESS,
            Status.SUCCESS,
        )
        w.engine.sla.notifier.flush()
        errors = {a.rule: (a.sent_count, a.last_error) for a in w.backend.list_alerts()}
        assert errors["down"][0] == errors["unavailable"][0] == errors["hangs_up"][0] == 1
        assert errors["down"][1].startswith("webhook failed: ConnectError")
        assert errors["unavailable"][1] == "webhook answered HTTP 503 (attempt 3)"
        assert errors["hangs_up"][1].startswith("webhook failed: RemoteProtocolError")
        assert errors["hangs_up"][1].endswith("(attempt 3)")
        # three tries each, then it gave up
        assert (len(unavailable.requests), len(hangs_up.requests)) == (3, 3)


# -- the DataWorks endpoint misbehaving --------------------------------------------------------

BIZDATE = date(2025, 10, 31)
HOP = {"content-length", "connection", "accept-encoding", "transfer-encoding"}


class Gateway(QuietServer):
    """A real HTTP server on 127.0.0.1 in front of the emulator: it passes requests on, or
    misbehaves as ``fault`` says, the way Alibaba's gateway can."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Gateway)
        self.upstream = upstream
        self.fault = "none"
        self.only: str | None = None  # misbehave for this action alone; the rest pass
        self.hits = 0  # requests it misbehaved for (with ``only``) or all of them
        self.http = httpx.Client(timeout=30)
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _error(code: str, message: str) -> bytes:
    body = {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message}
    return json.dumps(body).encode()


class _Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def _serve(self, method: str) -> None:
        gateway: Gateway = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = (
            self.headers.get("x-acs-action")
            or parse_qs(urlsplit(self.path).query).get("Action", [""])[0]
        )
        chosen = gateway.only is None or action == gateway.only
        gateway.hits += chosen
        fault = gateway.fault if chosen else "none"
        if fault in ("none", "late"):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            answer = gateway.http.request(
                method, gateway.upstream + self.path, headers=headers, content=body
            )
            if fault == "late":  # it was done; the answer comes after the client gave up
                gateway.release.wait(5)
            self._answer(answer.status_code, answer.content, answer.headers.get("content-type"))
        elif fault == "shape":
            self._answer(200, b'{"RequestId": "7F3A"}')  # JSON, but not what was asked
        elif fault == "500":
            self._answer(500, _error("InternalError", "The request processing has failed."))
        elif fault == "502":
            self._answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif fault == "429":
            self._answer(429, _error("Throttling.User", "Request was denied due to flow control."))
        elif fault == "garbage":
            self._answer(200, b"\x00\xff\xfe not JSON at all", "application/json")
        elif fault == "truncated":
            self._answer(200, b'{"RequestId": "7F", "PagingInfo": {"TaskInstances": [{"Id": 1')
        elif fault == "slow":
            gateway.release.wait(10)  # longer than the client waits
            self._answer(504, _error("GatewayTimeout", "too late"))
        elif fault == "hang up":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _answer(self, status: int, body: bytes, kind: str | None = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-acs-request-id", "GW-" + uuid.uuid4().hex[:8].upper())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway(server: EmulatorServer) -> Iterator[Gateway]:
    httpd = Gateway(server.url)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    httpd.http.close()


@pytest.fixture
def remote(gateway: Gateway, scene: World, tmp_path: Path) -> Iterator[DataWorksBackend]:
    retry = RetryPolicy(max_attempts=3, base_sleep=0.01, max_sleep=0.05)
    credentials = Credentials(emulated.KEY_ID, emulated.SECRET)
    # 1.5 s: the healthy pass-through must fit on a loaded 2-core CI machine (0.5 s did not)
    with DataWorksClient(credentials, gateway.url, timeout=1.5, retry=retry) as client:
        yield make(client, scene, tmp_path)


FAULTS = {  # fault: (what the operator reads, requests per call: retried or not)
    "500": ("InternalError: The request processing has failed. (request id ", 3),
    "502": ("HTTP502: answer is not a JSON object: '<html><body><h1>502 Bad Gateway", 3),
    "429": ("Throttling.User: Request was denied due to flow control.", 3),
    "garbage": ("answer is not a JSON object", 1),
    "truncated": ("answer is not a JSON object", 1),
    "slow": ("did not answer in time", 1),
    "hang up": ("cannot reach http://127.0.0.1:", 1),
    "shape": ("request id 7F3A", 1),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_misbehaving_dataworks_endpoint_is_named_and_changes_nothing(
    fault: str, gateway: Gateway, remote: DataWorksBackend, scene: World
) -> None:
    failed = scene.instance("failed")
    words, tries = FAULTS[fault]
    assert remote.get_instance(failed.id).status is Status.FAILURE  # through the gateway
    gateway.fault = fault
    calls = {
        "ListTaskInstances": lambda: remote.list_instances(InstanceFilter(bizdate=BIZDATE)),
        "GetTaskInstance": lambda: remote.get_instance(failed.id),
        "RerunTaskInstances": lambda: remote.rerun([failed.id]),
    }
    for action, call in calls.items():
        gateway.only = action  # a rerun reads its targets first; this fault is the rerun's
        before = gateway.hits
        began = time.monotonic()
        with pytest.raises(ActionRefused) as refused:
            call()
        assert refused.value.reason.startswith(f"DataWorks {action} failed: "), refused.value
        assert words in refused.value.reason, refused.value.reason
        assert gateway.hits - before == tries  # retried only what a retry can cure
        assert time.monotonic() - began < 4  # bounded: one 1.5 s timeout, a capped backoff
    assert scene.backend.get_instance(failed.id).status is Status.FAILURE  # nothing happened
    # no answer to a change cannot tell it was not done: unknown, not refused
    expected = "unknown" if fault == "slow" else "refused"
    assert remote.audit_log(limit=1)[0].outcome == expected
    # the world behind the API went on meanwhile, and the backend recovers with the endpoint
    scene.go(at(6))
    gateway.fault, gateway.only = "none", None
    gateway.release.set()
    assert remote.get_instance(scene.instance("v00").id).status is Status.SUCCESS
    assert remote.rerun([failed.id]).affected == [failed.id]


def test_an_action_whose_targets_cannot_be_read_is_refused_as_not_sent(
    gateway: Gateway, remote: DataWorksBackend, scene: World
) -> None:
    """A rerun reads its targets first: when that read gets no answer, nothing was sent, so
    the operator is told it was refused (not that it may have happened)."""
    failed = scene.instance("failed")
    gateway.fault, gateway.only = "slow", "ListTaskInstances"
    with pytest.raises(ActionRefused) as refused:
        remote.rerun([failed.id])
    assert refused.value.reason.startswith("DataWorks ListTaskInstances failed: ")
    assert "may have been done" not in refused.value.reason
    assert remote.audit_log(limit=1)[0].outcome == "refused"
    gateway.release.set()
    assert scene.backend.get_instance(failed.id).status is Status.FAILURE


@pytest.mark.parametrize("kind", [DataWorksBackend, LegacyBackend], ids=["2024", "2020"])
def test_an_action_answered_too_late_may_have_been_done_and_says_so(
    gateway: Gateway, remote: DataWorksBackend, scene: World, kind: type[DataWorksBackend]
) -> None:
    """The rerun reached DataWorks and was done, but its answer came after the client gave
    up: the operator is told it may have happened, and the audit says unknown, not refused."""
    remote = make(remote.client, scene, Path(remote.audit_path).parent, kind=kind)
    failed = scene.instance("failed")
    gateway.fault = "late"
    gateway.only = "RestartInstance" if kind is LegacyBackend else "RerunTaskInstances"
    with pytest.raises(ActionRefused) as told:
        remote.rerun([failed.id])
    assert "may have been done all the same" in told.value.reason
    assert gateway.hits and scene.backend.get_instance(failed.id).status is Status.NOT_RUN
    entry = remote.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome) == ("rerun", "unknown")
    gateway.release.set()
    gateway.fault = "none"
    assert remote.get_instance(failed.id).status is Status.NOT_RUN  # a read is never "unknown"


async def test_the_console_over_a_failing_dataworks_endpoint_says_stale_and_recovers(
    gateway: Gateway, remote: DataWorksBackend, scene: World
) -> None:
    app = OpsApp(remote, start="instances", refresh_seconds=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.stale_since is None
        gateway.fault = "500"
        deadline = time.monotonic() + 10
        while app.stale_since is None:
            assert time.monotonic() < deadline, "the console never noticed"
            await pilot.pause(0.1)
        header = app.screen.query_one("WorldLine").render()
        assert "stale since" in str(header)
        said = "the backend did not answer: DataWorks ListTaskInstances failed: InternalError"
        # the notice is a message the app handles after marking itself stale: wait for it
        while not any(said in n.message for n in app._notifications):
            told = [n.message for n in app._notifications]
            assert time.monotonic() < deadline, f"the operator was never told: {told}"
            await pilot.pause(0.1)
        gateway.fault = "none"
        deadline = time.monotonic() + 15
        while app.stale_since is not None:
            assert time.monotonic() < deadline, "the console never recovered"
            await pilot.pause(0.1)
        await settle(pilot)
        assert "stale" not in str(app.screen.query_one("WorldLine").render())
