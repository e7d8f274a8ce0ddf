"""Custom alert rules (spec 7.5) as an operator meets them: what raises an alert, how often it
is sent, when it ends, where it goes (the store and a webhook), and what workspace.yaml says.

Triggers are played with the real scheduler on a ManualClock (the harness of test_sla.py);
webhooks are posted to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import select

from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import AlertRule, AlertTrigger, InstanceKind, Status
from opscenter.domain.records import AlertInfo, BackfillRequest, InstanceFilter
from opscenter.project.loader import load_workspace
from opscenter.project.problems import Problem, WorkspaceError
from opscenter.scheduler import state
from opscenter.scheduler.generate import ensure_generated
from opscenter.sla.alerts import AlertMonitor, Notifier
from opscenter.store.models import InstanceRow, NodeRow
from opscenter.store.tx import writing
from tests.conftest import deploy_folder, write_workspace
from tests.test_sla import BIZDATE, START, World, at, shell, utc

NEXT_DAY = date(2025, 11, 2)
EARLIER = date(2025, 10, 30)


@pytest.fixture
def world(tmp_path: Path, store: Database) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(yaml_text: str, *, start: datetime = START, **kwargs: object) -> World:
        made.append(World(store, tmp_path / "ws", yaml_text, start=start, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


def alerts(w: World, rule: str | None = None) -> list[AlertInfo]:
    found = sorted(w.backend.list_alerts(), key=lambda a: a.id)
    return [a for a in found if rule is None or a.rule == rule]


def sends(w: World, rule: str) -> list[tuple[int, datetime | None, datetime | None]]:
    """(sent_count, last_sent_at, resolved_at) of each alert of the rule."""
    return [(a.sent_count, a.last_sent_at, a.resolved_at) for a in alerts(w, rule)]


# ---------------------------------------------------------------------------
# triggers
# ---------------------------------------------------------------------------


def test_error_is_recorded_once_re_sent_within_limits_and_resolved_for_good(
    world: Callable[..., World],
) -> None:
    w = world(
        "nodes:\n"
        + shell("job", "00 00 01 * * ?")
        + """
alerts:
  - {name: job_failed, trigger: Error, nodes: [job], interval: 10m, max: 3}
"""
    )
    w.go(at(1, 0))
    assert alerts(w) == []  # running is not an error
    w.fail("job")
    [alert] = alerts(w)
    job = w.instance("job")
    assert (alert.rule, alert.kind, alert.target) == ("job_failed", "Error", f"instance:{job.id}")
    assert f"job #{job.id}" in alert.message and "failed" in alert.message
    assert (alert.first_at, alert.sent_count, alert.last_sent_at) == (utc(1), 1, utc(1))
    assert alert.resolved_at is None

    w.go(at(1, 9))
    assert sends(w, "job_failed") == [(1, utc(1), None)]  # not before the interval
    w.go(at(1, 10))
    assert sends(w, "job_failed") == [(2, utc(1, 10), None)]
    w.go(at(1, 20))
    assert sends(w, "job_failed") == [(3, utc(1, 20), None)]
    w.go(at(1, 30))
    w.go(at(2, 30))
    assert sends(w, "job_failed") == [(3, utc(1, 20), None)]  # at most max sends

    # the condition ends: resolved; it failing again later does not bring it back
    w.go(at(2, 35))
    w.backend.rerun([job.id])
    w.wait_for(lambda: w.status("job") is Status.RUNNING)
    w.tick()
    assert sends(w, "job_failed") == [(3, utc(1, 20), utc(2, 35))]
    w.go(at(2, 40))
    w.fail("job")
    w.go(at(4, 0))
    assert sends(w, "job_failed") == [(3, utc(1, 20), utc(2, 35))]
    assert len(alerts(w)) == 1


def test_exhausted_error_waits_until_the_auto_reruns_are_used_up(
    world: Callable[..., World],
) -> None:
    w = world(
        """
        nodes:
          - {name: flaky, type: shell, code: "exit 1", trigger: {cron: "00 00 01 * * ?"},
             rerun_times: 2, rerun_interval: 1m}
        alerts:
          - {name: any_failure, trigger: Error, nodes: [flaky]}
          - {name: gave_up, trigger: ExhaustedError, nodes: [flaky]}
        """
    )

    def failed_attempts(count: int) -> Callable[[], bool]:
        return lambda: (
            w.instance("flaky").status is Status.FAILURE
            and len(w.backend.attempts(w.instance("flaky").id)) == count
        )

    w.go(at(1, 0))
    w.wait_for(failed_attempts(1))
    w.tick()
    assert [a.rule for a in alerts(w)] == ["any_failure"]  # an auto rerun is still to come
    w.go(at(1, 1))
    w.wait_for(failed_attempts(2))
    w.tick()
    assert alerts(w, "gave_up") == []
    w.go(at(1, 2))
    w.wait_for(failed_attempts(3))
    w.tick()
    [gave_up] = alerts(w, "gave_up")
    assert gave_up.first_at == utc(1, 2)
    assert "still failing after its auto reruns" in gave_up.message
    assert w.instance("flaky").retry_at is None


def test_timeout_fires_once_the_instance_ran_longer_than_n_minutes(
    world: Callable[..., World],
) -> None:
    w = world(
        "nodes:\n"
        + shell("long", "00 00 01 * * ?")
        + """
alerts:
  - {name: too_long, trigger: Timeout, nodes: [long], minutes: 30}
"""
    )
    w.go(at(1, 0))
    assert w.status("long") is Status.RUNNING
    w.go(at(1, 29))
    assert alerts(w) == []
    w.go(at(1, 30))
    assert alerts(w) == []  # 30 minutes is not longer than 30 minutes
    w.go(at(1, 31))
    [alert] = alerts(w)
    assert (alert.kind, alert.first_at) == ("Timeout", utc(1, 31))
    assert "running longer than 30 minutes" in alert.message
    w.go(at(1, 40))
    w.finish("long")
    assert alerts(w)[0].resolved_at == utc(1, 40)


def test_unfinished_by_a_time_of_the_schedule_day_and_of_the_next_day(
    world: Callable[..., World],
) -> None:
    w = world(
        """
        nodes:
          - {name: up, type: shell, code: "exit 1", trigger: {cron: "00 00 01 * * ?"}}
          - {name: report, type: virtual, trigger: {cron: "00 00 01 * * ?"}, depends: [up]}
        alerts:
          - {name: by_two, trigger: UnFinished, nodes: [report], at: "02:00"}
          - {name: by_next_day, trigger: UnFinished, nodes: [report], at: "25:00"}
        """
    )
    w.go(at(1, 0))
    w.wait_for(lambda: w.status("up") is Status.FAILURE)
    w.go(at(1, 59))
    assert alerts(w) == []
    w.go(at(2, 0))
    report = w.instance("report")
    [by_two] = alerts(w)
    assert (by_two.rule, by_two.target, by_two.first_at) == (
        "by_two",
        f"instance:{report.id}",
        utc(2, 0),
    )
    assert "not finished by 02:00 (NOT_RUN)" in by_two.message

    # 25:00 is 01:00 of the day after the schedule day
    w.go(at(0, 59, day=NEXT_DAY))
    assert [a.rule for a in alerts(w)] == ["by_two"]
    w.go(at(1, 0, day=NEXT_DAY))
    [by_next_day] = alerts(w, "by_next_day")
    assert (by_next_day.target, by_next_day.first_at) == (
        f"instance:{report.id}",
        utc(1, 0, day=NEXT_DAY),
    )

    # done at last: both end
    w.backend.set_success([w.instance("up").id])
    w.wait_for(lambda: w.status("report") is Status.SUCCESS)
    w.tick()
    assert all(a.resolved_at == utc(1, 0, day=NEXT_DAY) for a in alerts(w))


def test_baseline_warning_then_over(world: Callable[..., World]) -> None:
    w = world(
        "nodes:\n"
        + shell("X", "00 30 00 * * ?")
        + """
baselines:
  - {name: morning, committed_time: "02:00", margin: 30, nodes: [X]}
alerts:
  - {name: at_risk, trigger: BaselineWarning, baselines: [morning], interval: 1h}
  - {name: late, trigger: BaselineOver, baselines: [morning], interval: 20m, max: 2}
"""
    )
    w.go(at(0, 30))  # X has no history: 10 minutes by default, done 00:40
    w.go(at(1, 30))
    assert alerts(w) == []  # running late, but predicted exactly at the alert time
    w.go(at(1, 31))
    [at_risk] = alerts(w)
    assert (at_risk.rule, at_risk.kind, at_risk.first_at) == (
        "at_risk",
        "BaselineWarning",
        utc(1, 31),
    )
    assert at_risk.target.startswith("baseline:") and at_risk.target.endswith(":2025-10-31:1")
    assert "morning is WARNING for bizdate 20251031" in at_risk.message
    assert "committed 11-01 02:00" in at_risk.message

    w.go(at(2, 0))
    assert [a.rule for a in alerts(w)] == ["at_risk"]  # at the committed time: not yet over
    w.go(at(2, 1))
    at_risk, late = alerts(w)
    assert at_risk.resolved_at == utc(2, 1)  # no longer a warning: it is over
    assert (late.rule, late.target, late.sent_count) == ("late", at_risk.target, 1)
    assert "is OVER" in late.message

    w.go(at(2, 10))
    w.finish("X")  # finished after the committed time: it stays over
    w.go(at(2, 21))
    w.go(at(3, 0))
    assert sends(w, "late") == [(2, utc(2, 21), None)]
    assert sends(w, "at_risk") == [(1, utc(1, 31), utc(2, 1))]


def test_nothing_is_sent_in_quiet_hours(
    world: Callable[..., World], tmp_path: Path, store: Database
) -> None:
    with webhook() as hook:
        w = world(
            "nodes:\n"
            + shell("stuck", "00 30 01 * * ?")
            + shell("brief", "00 30 01 * * ?")
            + f"""
alerts:
  - {{name: failed, trigger: Error, nodes: [stuck, brief], quiet_hours: "01:00-03:00",
     webhook: "{hook.url}"}}
  - {{name: night, trigger: Error, nodes: [stuck], quiet_hours: "23:00-02:00"}}
"""
        )
        w.go(at(1, 30))
        w.fail("stuck")
        w.fail("brief")
        # recorded (the console lists them) but not sent
        assert sorted((a.rule, a.sent_count, a.last_sent_at) for a in alerts(w)) == [
            ("failed", 0, None),
            ("failed", 0, None),
            ("night", 0, None),
        ]
        w.go(at(1, 45))
        w.backend.rerun([w.instance("brief").id])
        w.wait_for(lambda: w.status("brief") is Status.RUNNING)
        w.finish("brief")  # it ended within the quiet hours: it is never sent
        w.go(at(2, 0))  # the window across midnight has ended
        assert sends(w, "night") == [(1, utc(2), None)]
        w.go(at(2, 59))
        assert [a.sent_count for a in alerts(w, "failed")] == [0, 0]
        w.engine.sla.notifier.flush()
        assert hook.requests == []
        w.go(at(3, 0))  # still failing when the quiet hours end: sent now
        stuck, brief = alerts(w, "failed")
        assert (stuck.sent_count, stuck.last_sent_at, stuck.resolved_at) == (1, utc(3), None)
        assert (brief.sent_count, brief.resolved_at) == (0, utc(1, 45))
        w.engine.sla.notifier.flush()
        assert [r.body["target"] for r in hook.requests] == [stuck.target]


def test_backfill_instances_raise_nothing(world: Callable[..., World]) -> None:
    w = world(
        """
        nodes:
          - {name: flaky, type: shell, code: "exit 1", trigger: {cron: "00 00 05 * * ?"}}
        alerts:
          - {name: failed, trigger: Error, nodes: [flaky]}
          - {name: gave_up, trigger: ExhaustedError, nodes: [flaky]}
          - {name: slow, trigger: UnFinished, nodes: [flaky], at: "23:00"}
        """
    )
    w.go(at(1, 0))
    # the day before: its cyctime has passed, and the date is one the rules look at
    w.backend.backfill(BackfillRequest("flaky", EARLIER, EARLIER))

    def backfilled() -> list:
        flt = InstanceFilter(node="flaky", kind=InstanceKind.BACKFILL)
        return w.backend.list_instances(flt).items

    w.wait_for(lambda: [i.status for i in backfilled()] == [Status.FAILURE])
    w.go(at(1, 5))
    assert alerts(w) == []
    w.go(at(5, 0))  # the auto triggered instance fails: that one counts
    w.wait_for(lambda: w.status("flaky") is Status.FAILURE)
    w.tick()
    assert {a.rule for a in alerts(w)} == {"failed", "gave_up"}
    assert {a.target for a in alerts(w)} == {f"instance:{w.instance('flaky').id}"}


# ---------------------------------------------------------------------------
# the webhook
# ---------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    content_type: str
    body: dict
    at: float


@dataclass
class Hook:
    url: str
    statuses: list[int]  # answers in turn; the last one repeats
    hang: bool = False
    hang_up: bool = False  # closes the connection without an answer
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a connection the server hung up on purpose


@contextmanager
def webhook(
    statuses: tuple[int, ...] = (200,), *, hang: bool = False, hang_up: bool = False
) -> Iterator[Hook]:
    """A real HTTP server on 127.0.0.1 that records what is posted to it."""
    hook = Hook("", list(statuses), hang, hang_up)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            hook.requests.append(
                Received(self.path, self.headers.get("Content-Type", ""), body, time.monotonic())
            )
            if hook.hang_up:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if hook.hang:
                hook.release.wait(5)  # a webhook that hangs (until the test is over)
            status = hook.statuses.pop(0) if len(hook.statuses) > 1 else hook.statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/opscenter"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@dataclass
class Failed:
    """A deployed workspace with one failed auto triggered instance, and no scheduler."""

    store: Database
    workspace_id: int
    instance_id: int
    backend: LocalBackend

    def monitor(self, notifier: Notifier) -> AlertMonitor:
        return AlertMonitor(self.store, self.workspace_id, notifier)


def failed_instance(store: Database, folder: Path, url: str, rule_extra: str = "") -> Failed:
    text = f"""
    workspace: {{name: ws, timezone: UTC}}
    nodes:
      - {{name: job, type: shell, code: "true", trigger: {{cron: "00 00 01 * * ?"}}}}
    alerts:
      - {{name: job_failed, trigger: Error, nodes: [job], webhook: "{url}"{rule_extra}}}
    """
    report = deploy_folder(store, write_workspace(folder, text), now=utc(0, 0))
    ensure_generated(store, report.workspace_id, utc(0, 0))
    with writing(store) as conn:
        instance_id = conn.scalar(
            select(InstanceRow.id)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(NodeRow.name == "job", InstanceRow.bizdate == BIZDATE)
        )
        state.move(
            conn, [instance_id], Status.FAILURE, allowed_from=[Status.NOT_RUN], now=utc(1, 0)
        )
    backend = LocalBackend(store, "ws", ManualClock(at(1, 0)), user="alice")
    return Failed(store, report.workspace_id, instance_id, backend)


def test_the_webhook_receives_the_documented_body(tmp_path: Path, store: Database) -> None:
    with webhook() as hook:
        failed = failed_instance(store, tmp_path / "ws", hook.url, ", interval: 1m")
        notifier = Notifier(store, retries=3, backoff=0.01)
        monitor = failed.monitor(notifier)
        monitor.check(utc(1, 0, 30))
        notifier.flush()
        [received] = hook.requests
        [alert] = failed.backend.list_alerts()
        assert received.path == "/hooks/opscenter"
        assert received.content_type.startswith("application/json")
        assert received.body == {
            "alert_id": alert.id,
            "rule": "job_failed",
            "trigger": "Error",
            "target": f"instance:{failed.instance_id}",
            "message": alert.message,
            "workspace": "ws",
            "first_at": "2025-11-01T01:00:30Z",
            "sent_at": "2025-11-01T01:00:30Z",
            "send": 1,
            "max": 3,
        }
        assert "job" in received.body["message"] and "failed" in received.body["message"]
        assert alert.last_error == ""
        monitor.check(utc(1, 1, 0))  # 30 s later: not yet
        monitor.check(utc(1, 1, 30))  # a minute later: sent again
        notifier.flush()
        assert [r.body["send"] for r in hook.requests] == [1, 2]
        assert hook.requests[1].body["first_at"] == "2025-11-01T01:00:30Z"
        assert hook.requests[1].body["sent_at"] == "2025-11-01T01:01:30Z"
        notifier.close()


def test_a_failing_webhook_is_retried_with_backoff_and_the_failure_recorded(
    tmp_path: Path, store: Database
) -> None:
    with webhook((500, 500, 500, 200)) as hook:
        failed = failed_instance(store, tmp_path / "ws", hook.url, ", interval: 1m")
        pauses: list[float] = []

        def sleep(seconds: float) -> None:
            pauses.append(seconds)
            time.sleep(seconds)

        notifier = Notifier(store, retries=3, backoff=0.01, sleep=sleep)
        monitor = failed.monitor(notifier)
        monitor.check(utc(1, 0))
        notifier.flush()
        assert len(hook.requests) == 3  # three attempts, then it gives up
        assert pauses == [0.01, 0.02]  # backoff doubles between attempts
        assert all(r.body["send"] == 1 for r in hook.requests)
        [alert] = failed.backend.list_alerts()
        assert alert.last_error == "webhook answered HTTP 500 (attempt 3)"
        assert alert.sent_count == 1  # the store channel has it regardless

        monitor.check(utc(1, 1))  # the next send reaches it: the error is cleared
        notifier.flush()
        assert len(hook.requests) == 4
        assert failed.backend.list_alerts()[0].last_error == ""
        notifier.close()


def test_an_unreachable_webhook_is_recorded_on_the_alert(tmp_path: Path, store: Database) -> None:
    failed = failed_instance(store, tmp_path / "ws", closed_port_url())
    notifier = Notifier(store, retries=2, backoff=0.01)
    monitor = failed.monitor(notifier)
    begin = time.monotonic()
    monitor.check(utc(1, 0))
    assert time.monotonic() - begin < 0.5  # check never waits for the webhook
    notifier.flush()
    [alert] = failed.backend.list_alerts()
    assert alert.last_error.startswith("webhook failed: ConnectError")
    assert alert.last_error.endswith("(attempt 2)")
    notifier.close()


def test_alerts_and_their_webhook_errors_on_the_command_line(
    tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = failed_instance(store, tmp_path / "ws", closed_port_url())
    notifier = Notifier(store, retries=1)
    failed.monitor(notifier).check(utc(1, 0))
    notifier.close()
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(store.url)]
    assert main(["alerts", *where], clock=ManualClock(at(1, 5))) == 0
    out = capsys.readouterr().out
    assert "job_failed" in out and "Error" in out and "sent 1x" in out and "open" in out
    assert "[webhook: webhook failed: ConnectError" in out
    assert main(["alerts", *where, "--json"], clock=ManualClock(at(1, 5))) == 0
    [alert] = json.loads(capsys.readouterr().out)
    assert (alert["rule"], alert["target"]) == ("job_failed", f"instance:{failed.instance_id}")


def test_a_hanging_webhook_never_slows_the_check(tmp_path: Path, store: Database) -> None:
    with webhook(hang=True) as hook:
        failed = failed_instance(store, tmp_path / "ws", hook.url)
        notifier = Notifier(store)  # defaults: 5 s timeout per post
        monitor = failed.monitor(notifier)
        begin = time.monotonic()
        monitor.check(utc(1, 0))
        assert time.monotonic() - begin < 2  # the post hangs for its 5 s timeout meanwhile
        deadline = time.monotonic() + 2
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hook.requests) == 1  # posted, and the server is sitting on it
        begin = time.monotonic()
        monitor.check(utc(1, 1))
        assert time.monotonic() - begin < 2
        hook.release.set()
        notifier.close()
        assert failed.backend.list_alerts()[0].last_error == ""


@contextmanager
def trickling_webhook(every: float) -> Iterator[tuple[str, list[float]]]:
    """A server that answers each post's headers at once, then one body byte every ``every``
    seconds for as long as the client listens: every read is quick, the post never ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[float] = []
    done = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                while not done.wait(every):
                    conn.sendall(b".")
            except OSError:
                return  # the client gave up on it

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(time.monotonic())
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", accepted
    finally:
        done.set()
        listener.close()


def test_a_trickling_webhook_is_cut_at_the_total_deadline_retried_and_recorded(
    tmp_path: Path, store: Database
) -> None:
    with trickling_webhook(every=0.2) as (url, accepted):
        failed = failed_instance(store, tmp_path / "ws", url)
        notifier = Notifier(store, timeout=1.0, retries=2, backoff=0.01)
        begin = time.monotonic()
        failed.monitor(notifier).check(utc(1, 0))
        notifier.flush(timeout=20)
        took = time.monotonic() - begin
        notifier.close()
    # two posts of one second each, not the server's never-ending body
    assert len(accepted) == 2
    assert took < 6
    [alert] = failed.backend.list_alerts()
    assert alert.last_error == "webhook did not answer within 1 s in all (attempt 2)"


def test_a_process_that_never_closed_its_notifier_still_exits(tmp_path: Path) -> None:
    """A scheduler that fails before it closes its notifier (a full disk) must exit, not
    wait for ever on the notifier's idle thread."""
    code = (
        "from opscenter.sla.alerts import Notifier\n"
        "from opscenter.store.db import open_store\n"
        f"Notifier(open_store('sqlite:///{tmp_path / 'state.db'}'))\n"
        "print('leaving')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, "leaving\n")


def test_the_scheduler_keeps_working_while_a_webhook_hangs(world: Callable[..., World]) -> None:
    with webhook(hang=True) as hook:
        w = world(
            f"""
            nodes:
              - {{name: broken, type: shell, code: "exit 1", trigger: {{cron: "00 00 01 * * ?"}}}}
              - {{name: next, type: shell, code: "true", trigger: {{cron: "00 05 01 * * ?"}}}}
              - {{name: last, type: shell, code: "true", trigger: {{cron: "00 05 01 * * ?"}},
                 depends: [next]}}
            alerts:
              - {{name: broken_failed, trigger: Error, nodes: [broken], webhook: "{hook.url}"}}
            """
        )
        w.go(at(1, 0))
        w.wait_for(lambda: w.status("broken") is Status.FAILURE)
        w.tick()
        deadline = time.monotonic() + 2
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(hook.requests) == 1 and not hook.release.is_set()

        begin = time.monotonic()
        w.go(at(1, 5))
        w.wait_for(lambda: w.status("last") is Status.SUCCESS)
        assert time.monotonic() - begin < 2.0  # generous: without the hang it is ~0.1 s
        assert [a.sent_count for a in alerts(w)] == [1]
        hook.release.set()
        w.close()
        assert alerts(w)[0].last_error == ""


# ---------------------------------------------------------------------------
# the alerts: section of workspace.yaml
# ---------------------------------------------------------------------------

RULES_BASE = textwrap.dedent(
    """\
    workspace:
      name: mini
      timezone: UTC

    nodes:
      - name: load
        type: shell
        trigger: {cron: "00 30 00 * * ?"}
        code: echo load
      - name: report
        type: shell
        trigger: {cron: "00 00 01 * * ?"}
        depends: [load]
        code: echo report

    baselines:
      - name: morning
        committed_time: "08:00"
        nodes: [report]

    alerts:
    """
)


def rules_file(tmp_path: Path, rules: str) -> tuple[Path, str]:
    text = RULES_BASE + textwrap.indent(textwrap.dedent(rules), "  ")
    folder = tmp_path / "ws"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workspace.yaml").write_text(text, encoding="utf-8")
    return folder, text


def line_of(text: str, fragment: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) == 1, f"{fragment!r} is on {len(hits)} lines"
    return hits[0]


def single_problem(folder: Path) -> Problem:
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(folder)
    found = caught.value.problems
    assert len(found) == 1, "expected one problem, got:\n" + "\n".join(map(str, found))
    return found[0]


def test_a_valid_alerts_section_loads(tmp_path: Path) -> None:
    folder, _ = rules_file(
        tmp_path,
        """
        - name: late
          trigger: BaselineOver
          baselines: [morning]
          interval: 2h
          max: 5
          quiet_hours: "23:00-07:00"
          webhook: https://hooks.example.com/opscenter
        - {name: stuck, trigger: Timeout, nodes: [load, report], minutes: 90}
        - {name: not_done, trigger: UnFinished, nodes: [report], at: 33:30}
        - {name: failed, trigger: Error, nodes: [load], interval: 90s}
        - {name: gave_up, trigger: ExhaustedError, nodes: [load]}
        - {name: at_risk, trigger: BaselineWarning, baselines: [morning]}
        """,
    )
    rules = {r.name: r for r in load_workspace(folder).alerts}
    assert rules["late"] == AlertRule(
        "late",
        AlertTrigger.BASELINE_OVER,
        baselines=("morning",),
        interval=7200,
        max_sends=5,
        quiet_hours=("23:00", "07:00"),
        webhook="https://hooks.example.com/opscenter",
    )
    assert rules["stuck"] == AlertRule(
        "stuck", AlertTrigger.TIMEOUT, nodes=("load", "report"), minutes=90
    )
    assert rules["not_done"].at == "33:30"  # unquoted: taken as written, the next day
    assert rules["failed"].interval == 90
    defaults = rules["gave_up"]
    assert (defaults.interval, defaults.max_sends, defaults.quiet_hours, defaults.webhook) == (
        1800,
        3,
        None,
        "",
    )
    assert list(rules) == ["late", "stuck", "not_done", "failed", "gave_up", "at_risk"]


@pytest.mark.parametrize(
    ("rules", "fragment", "field", "words", "hint"),
    [
        (
            "- {name: r, trigger: Eror, nodes: [load]}",
            "trigger: Eror",
            "alerts[0].trigger",
            ("'Eror'",),
            "did you mean 'Error'?",
        ),
        (
            "- {name: r, trigger: UnFinished, nodes: [report]}",
            "{name: r,",
            "alerts[0]",
            ("UnFinished", "'at'"),
            "",
        ),
        (
            "- {name: r, trigger: UnFinished, nodes: [report], at: 48:00}",
            "at: 48:00",
            "alerts[0].at",
            ("'48:00'", "not a time"),
            "47",
        ),
        (
            "- {name: r, trigger: UnFinished, nodes: [report], at: '9am'}",
            "at: '9am'",
            "alerts[0].at",
            ("'9am'",),
            "hh:mm",
        ),
        (
            "- {name: r, trigger: Timeout, nodes: [load]}",
            "{name: r,",
            "alerts[0]",
            ("Timeout", "'minutes'"),
            "",
        ),
        (
            "- {name: r, trigger: Timeout, nodes: [load], minutes: 0}",
            "minutes: 0",
            "alerts[0].minutes",
            ("out of range",),
            "1..21600",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], at: '02:00'}",
            "at: '02:00'",
            "alerts[0].at",
            ("UnFinished",),
            "",
        ),
        (
            "- {name: r, trigger: BaselineWarning, nodes: [report]}",
            "nodes: [report]}",
            "alerts[0].nodes",
            ("watches baselines, not nodes",),
            "",
        ),
        (
            "- {name: r, trigger: Error, baselines: [morning]}",
            "baselines: [morning]}",
            "alerts[0].baselines",
            ("watches nodes, not baselines",),
            "",
        ),
        (
            "- {name: r, trigger: Error}",
            "trigger: Error}",
            "alerts[0]",
            ("needs 'nodes'",),
            "",
        ),
        (
            "- {name: r, trigger: Error, nodes: [reprot]}",
            "nodes: [reprot]",
            "alerts[0].nodes[0]",
            ("'reprot'", "nodes"),
            "did you mean 'report'?",
        ),
        (
            "- {name: r, trigger: BaselineOver, baselines: [mornin]}",
            "baselines: [mornin]",
            "alerts[0].baselines[0]",
            ("'mornin'", "baselines"),
            "did you mean 'morning'?",
        ),
        (
            "- {name: r, trigger: Error, nodes: []}",
            "nodes: []",
            "alerts[0].nodes",
            ("at least one",),
            "",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], webhook: 'hooks.example.com/x'}",
            "webhook:",
            "alerts[0].webhook",
            ("'hooks.example.com/x'", "not a webhook URL"),
            "http",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], webhook: 'ftp://example.com/x'}",
            "webhook:",
            "alerts[0].webhook",
            ("not a webhook URL",),
            "http",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], quiet_hours: '23:00-25:00'}",
            "quiet_hours:",
            "alerts[0].quiet_hours",
            ("'23:00-25:00'", "not a time window"),
            "HH:MM-HH:MM",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], quiet_hours: night}",
            "quiet_hours:",
            "alerts[0].quiet_hours",
            ("'night'",),
            "HH:MM-HH:MM",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], interval: 30s}",
            "interval: 30s",
            "alerts[0].interval",
            ("more often than once a minute",),
            "1m",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], interval: soon}",
            "interval: soon",
            "alerts[0].interval",
            ("'soon'", "not a duration"),
            "30m",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], max: 0}",
            "max: 0",
            "alerts[0].max",
            ("out of range",),
            "",
        ),
        (
            "- {name: r, trigger: Error, nodes: [load], emails: [ops]}",
            "emails:",
            "alerts[0].emails",
            ("unknown key 'emails'",),
            "",
        ),
    ],
)
def test_a_bad_alert_rule_is_a_located_problem(
    tmp_path: Path, rules: str, fragment: str, field: str, words: tuple[str, ...], hint: str
) -> None:
    folder, text = rules_file(tmp_path, rules)
    problem = single_problem(folder)
    file = str(folder / "workspace.yaml")
    assert (problem.file, problem.line, problem.field) == (file, line_of(text, fragment), field)
    for word in words:
        assert word in problem.message, str(problem)
    assert hint in problem.hint, str(problem)
    assert str(problem).startswith(f"{file}:{problem.line}:{problem.column}: {field}: ")


def test_a_rule_defined_twice_points_at_the_second(tmp_path: Path) -> None:
    folder, text = rules_file(
        tmp_path,
        """
        - {name: twice, trigger: Error, nodes: [load]}
        - {name: twice, trigger: ExhaustedError, nodes: [report]}
        """,
    )
    problem = single_problem(folder)
    assert problem.line == line_of(text, "trigger: ExhaustedError")
    assert problem.field == "alerts[1]" and "defined twice" in problem.message


def test_every_bad_rule_is_reported_in_one_run(tmp_path: Path) -> None:
    folder, text = rules_file(
        tmp_path,
        """
        - {name: one, trigger: Timeout, nodes: [load], minutes: 99999}
        - {name: two, trigger: UnFinished, nodes: [report], at: "24:60"}
        - {name: three, trigger: BaselineOver, baselines: [evening]}
        """,
    )
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(folder)
    lines = [(p.line, p.field) for p in caught.value.problems]
    assert lines == [
        (line_of(text, "minutes: 99999"), "alerts[0].minutes"),
        (line_of(text, '"24:60"'), "alerts[1].at"),
        (line_of(text, "[evening]"), "alerts[2].baselines[0]"),
    ]
