"""An instance that succeeded without running has a log saying why nothing ran.

A dry-run (a weekly node on its off day, a Skip node, an undeployed node's instance) and a
virtual node's instance settle as SUCCESS with no attempt. DataWorks shows a log of a line
or two for them; so do ``opscenter logs ID``, the console (both over Backend.read_log) and
the emulator's GetTaskInstanceLog / GetInstanceLog. The log is rendered from the store's
facts, in the workspace's zone. An instance that has not run yet still says so.

The world lives in Asia/Shanghai on Saturday 2030-01-05, so the zone shows in every log.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.backends.dataworks.emulator import Emulator, EmulatorServer, Verifier
from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.scheduler.logfile import quiet_log, text_page
from opscenter.store.db import open_store
from tests.conftest import deploy_folder, write_workspace
from tests.harness import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2030, 1, 5)  # a Saturday
DEPLOYED = datetime(2030, 1, 4, 16, 0)  # naive UTC: 00:00 CST on the 5th
START = datetime(2030, 1, 5, 1, 0, tzinfo=SHANGHAI)
KEY_ID, SECRET = "LTAI5tQuietLogs", "quiet-logs-secret"

WORKSPACE = """
    workspace: {name: ws, timezone: Asia/Shanghai}
    nodes:
      - {name: extract, type: shell, code: "echo rows", trigger: {cron: "00 30 00 * * ?"}}
      - {name: hub, type: virtual, depends: [extract], trigger: {cron: "00 30 00 * * ?"}}
      - {name: dws_sales_weekly, type: shell, code: "exit 1",
         trigger: {cron: "00 00 02 ? * 1"}}
      - {name: skipped, type: shell, code: "exit 1", recurrence: Skip,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: retired, type: shell, code: "exit 1", trigger: {cron: "00 00 04 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 09 * * ?"}}
"""

SETTLED_AT_2 = "succeeded at 2030-01-05 02:00:00 CST (Asia/Shanghai) with no attempt"
EXPECTED = {
    "hub": (
        "virtual node: nothing to run; it succeeds when its upstream has succeeded",
        "succeeded at 2030-01-05 01:00:00 CST (Asia/Shanghai) with no attempt",
    ),
    "dws_sales_weekly": (
        "dry-run: dws_sales_weekly runs weekly on Mon at 02:00; 2030-01-05 is a Saturday, "
        "so nothing ran and its downstream went on",
        SETTLED_AT_2,
    ),
    "skipped": (
        "dry-run: skipped's recurrence is Skip (dry-run), so nothing ran and its downstream "
        "went on",
        SETTLED_AT_2,
    ),
    "retired": (
        "dry-run: retired was undeployed before this instance ran (zero-load), so nothing ran",
        "succeeded at 2030-01-05 04:00:00 CST (Asia/Shanghai) with no attempt",
    ),
}


def at(hour: int) -> datetime:
    return datetime(2030, 1, 5, hour, 0, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Path]]:
    """At 04:00 CST: hub, the weekly node, the Skip node and the undeployed one have
    succeeded without running; extract ran; later waits for 09:00."""
    tmp = tmp_path_factory.mktemp("quiet")
    store = open_store(f"sqlite:///{tmp / 'state' / 'state.db'}")
    folder = write_workspace(tmp / "ws", textwrap.dedent(WORKSPACE))
    report = deploy_folder(store, folder, now=DEPLOYED)
    w = World(store, report.workspace_id, ManualClock(START.astimezone(UTC))).start()
    try:
        w.wait_for(lambda: w.status("hub", DAY) is Status.SUCCESS)
        w.backend.undeploy("retired")  # its waiting instance now dry-runs (spec 6.4)
        w.go(at(2))
        w.go(at(4))
        yield w, folder
    finally:
        w.close()
        store.dispose()


def logs(w: World, folder: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple:
    capsys.readouterr()
    code = main(
        ["logs", *argv, "--workspace", str(folder), "--db", str(w.store.url)], clock=w.clock
    )
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("node", sorted(EXPECTED))
def test_logs_says_why_nothing_ran(
    settled: tuple[World, Path], capsys: pytest.CaptureFixture[str], node: str
) -> None:
    w, folder = settled
    item = w.instance(node, DAY)
    assert item.status is Status.SUCCESS and w.attempts(node, DAY) == []  # no attempt ran
    code, out, err = logs(w, folder, capsys, str(item.id))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2, out
    why, when = EXPECTED[node]
    assert lines[0] == why
    assert lines[1].startswith(when)
    code, followed, _ = logs(w, folder, capsys, str(item.id), "--follow")
    assert (code, followed) == (0, out)  # nothing more will come: follow ends at once


def test_the_log_is_the_same_from_a_fresh_backend(settled: tuple[World, Path]) -> None:
    """Rendered from the store: another process (or one after a restart) reads the same."""
    w, _ = settled
    item = w.instance("dws_sales_weekly", DAY)
    other = LocalBackend(w.store, "ws", w.clock, user="bob", readonly=True)
    page = other.read_log(item.id)
    assert page.text == w.backend.read_log(item.id).text
    assert (page.attempt, page.at_end, page.size) == (0, True, len(page.text.encode()))
    first = other.read_log(item.id, limit=10)  # pages end at a line
    assert first.text == page.text.splitlines(keepends=True)[0]
    assert other.read_log(item.id, offset=first.next_offset).text == page.text[len(first.text) :]


def test_an_instance_that_ran_or_has_not_run_keeps_its_own_answer(
    settled: tuple[World, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    w, folder = settled
    ran = w.instance("extract", DAY)
    code, out, _ = logs(w, folder, capsys, str(ran.id))
    assert code == 0 and "rows" in out and "node:         extract (shell)" in out
    waiting = w.instance("later", DAY)
    assert waiting.status is Status.WAIT_TIME
    code, out, err = logs(w, folder, capsys, str(waiting.id))
    assert code == 3 and "has not run yet" in err
    weekly = w.instance("dws_sales_weekly", DAY)  # no attempt to name
    code, _, err = logs(w, folder, capsys, str(weekly.id), "--attempt", "1")
    assert code == 3 and "has not run yet" in err


def test_the_emulator_returns_the_same_text(settled: tuple[World, Path]) -> None:
    w, _ = settled
    backend = LocalBackend(w.store, "ws", w.clock, user="alice", source="emulator")
    httpd = EmulatorServer(("127.0.0.1", 0), Emulator(backend, Verifier({KEY_ID: SECRET})))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with DataWorksClient(Credentials(KEY_ID, SECRET), httpd.url) as client:
            for node in ("hub", "dws_sales_weekly", "skipped"):
                item = w.instance(node, DAY)
                expected = w.backend.read_log(item.id).text
                assert expected.startswith(EXPECTED[node][0])
                answer = client.call("GetTaskInstanceLog", {"Id": item.id}, method="GET")
                assert answer["TaskInstanceLog"] == expected
                legacy = client.call(
                    "GetInstanceLog",
                    {"InstanceId": item.id, "ProjectEnv": "PROD"},
                    version="2020-05-18",
                )
                assert legacy["Data"] == expected
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_each_dry_run_reason_is_worded() -> None:
    settled = datetime(2025, 11, 1, 2, 0, 5, tzinfo=UTC)
    cyctime = datetime(2025, 11, 1, 2, 0)

    def why(reason: str, cron: str = "00 00 02 * * ?", backfill: int | None = None) -> str:
        text = quiet_log(
            node="n",
            node_type="shell",
            dry_run=True,
            dry_run_reason=reason,
            cron=cron,
            cyctime=cyctime,
            settled=settled,
            backfill_id=backfill,
        )
        first, second = text.splitlines()
        assert second.startswith("succeeded at 2025-11-01 02:00:05 UTC with no attempt")
        return first

    assert why("not a run day", "00 30 02 1 * ?") == (
        "dry-run: n runs monthly on day 1 at 02:30; 2025-11-01 is not one of its days, "
        "so nothing ran and its downstream went on"
    )
    assert why("not selected in backfill", backfill=7).startswith(
        "dry-run: n was not selected in backfill #7"
    )
    assert "expired" in why("expired") and "2025-11-01 02:00" in why("expired")
    assert why("") == "dry-run: the instance runs dry, so nothing ran and its downstream went on"


def test_a_rendered_page_ends_at_a_line() -> None:
    data = b"first line\nsecond\n"
    assert text_page(data, 0, 4) == ("first line\n", 11)  # a long first line is finished
    assert text_page(data, 11, 100) == ("second\n", len(data))
    assert text_page(data, 100, 10) == ("", len(data))
