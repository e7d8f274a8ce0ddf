"""The headless verbs as an operator runs them: ``opscenter VERB ... --workspace --db``.

Each test deploys a workspace (tests/harness.py: ``ws`` in UTC, its engine on a
ManualClock), then calls ``opscenter.cli.main`` the way the command line does, on the
same folder and database, and reads what it prints: the text an operator reads, the JSON
a script parses, the exit status and, for refusals, the reason on stderr.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import select

from opscenter.cli import main
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import InstanceFilter
from opscenter.store.audit import os_user
from opscenter.store.models import WorkspaceRow
from tests.harness import START, TODAY, MakeWorld, World, at

BIZDATE = TODAY - timedelta(days=1)  # 2025-10-31: the instances generated on TODAY

# At 01:00 (the harness's start) one instance of nearly every status:
#   extract  SUCCESS at its first of 2 attempts   flaky   SUCCESS at its second attempt
#   broken   FAILURE                              stage   NOT_RUN, blocked by broken
#   report   NOT_RUN, blocked by stage (and so by broken)
#   later    WAIT_TIME (05:00)                    digest  WAIT_TIME, weekly (a dry-run today)
ZOO = """
    nodes:
      - name: extract
        type: shell
        owner: bob
        rerun_times: 1
        parameters: {day: "${yyyymmdd}"}
        code: 'echo "extracting $day"'
        trigger: {cron: "00 30 00 * * ?"}
      - name: flaky
        type: shell
        owner: carol
        rerun_times: 1
        rerun_interval: 0
        code: 'echo "try $OPSCENTER_ATTEMPT"; [ "$OPSCENTER_ATTEMPT" != 1 ] || exit 3'
        trigger: {cron: "00 30 00 * * ?"}
      - {name: broken, type: shell, owner: carol, code: "echo boom; exit 2",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: stage, type: virtual, owner: bob, depends: [broken],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, owner: bob, depends: [extract, stage],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, owner: dave, trigger: {cron: "00 00 05 * * ?"}}
      - {name: digest, type: virtual, owner: dave, trigger: {cron: "00 00 06 * * 1,5"}}
"""


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Operator:
    """Runs ``opscenter ARGS --workspace <the world's folder> --db <its store>``."""

    def __init__(
        self, w: World, folder: Path, store: Database, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.w = w
        self.where = ["--workspace", str(folder), "--db", str(store.url)]
        self.capsys = capsys

    def __call__(self, *argv: str) -> Run:
        self.capsys.readouterr()
        code = main([*argv, *self.where], clock=self.w.clock)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return Run(code, out, err)

    def ok(self, *argv: str) -> Run:
        run = self(*argv)
        assert run.code == 0, run.err
        assert run.err == ""
        return run

    def refused(self, *argv: str) -> str:
        """The reason of a refusal: exit 3, "refused: ..." on stderr."""
        run = self(*argv)
        assert run.code == 3, (run.out, run.err)
        assert run.err.startswith("refused: ")
        return run.err.removeprefix("refused: ").strip()

    def not_found(self, *argv: str) -> str:
        """What is not there: exit 4, "opscenter: ..." on stderr, never "refused"."""
        run = self(*argv)
        assert run.code == 4, (run.out, run.err)
        assert run.err.startswith("opscenter: ")
        return run.err.removeprefix("opscenter: ").strip()


@pytest.fixture
def zoo(world: MakeWorld) -> World:
    w = world(ZOO).start()
    # run_until_idle may return with an auto rerun due now still on its timer
    w.wait_for(lambda: w.status("flaky") is Status.SUCCESS)
    w.idle()
    assert {n: w.status(n) for n in ("extract", "flaky", "broken", "stage", "later")} == {
        "extract": Status.SUCCESS,
        "flaky": Status.SUCCESS,
        "broken": Status.FAILURE,
        "stage": Status.NOT_RUN,
        "later": Status.WAIT_TIME,
    }
    return w


@pytest.fixture
def cli(
    zoo: World, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> Operator:
    return Operator(zoo, tmp_path / "ws", store, capsys)


def operator(
    w: World, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> Operator:
    return Operator(w, tmp_path / "ws", store, capsys)


def row_of(out: str, node: str) -> str:
    """The line of a table whose NODE column is ``node``."""
    [line] = [line for line in out.splitlines() if f" {node} " in f" {line} "]
    return line


def last_line(out: str) -> str:
    """The count under a list ("3 of 8 shown", "8 nodes")."""
    return out.rstrip().splitlines()[-1]


def landing(w: World) -> Path:
    with w.store.connect() as conn:
        return Path(
            conn.scalar(select(WorkspaceRow.landing).where(WorkspaceRow.id == w.workspace_id))
        )


# ---------------------------------------------------------------------------
# nodes and one node
# ---------------------------------------------------------------------------


def test_nodes_lists_every_node_with_type_owner_and_schedule_in_words(cli: Operator) -> None:
    out = cli.ok("nodes").out
    assert out.splitlines()[0].split() == ["NODE", "TYPE", "OWNER", "PRIO", "GROUP", "SCHEDULE"]
    expected = {
        "ws_root": ("virtual", "system", "daily at 00:00"),
        "extract": ("shell", "bob", "daily at 00:30"),
        "flaky": ("shell", "carol", "daily at 00:30"),
        "broken": ("shell", "carol", "daily at 00:30"),
        "stage": ("virtual", "bob", "daily at 00:30"),
        "report": ("virtual", "bob", "daily at 00:30"),
        "later": ("virtual", "dave", "daily at 05:00"),
        "digest": ("virtual", "dave", "weekly on Mon, Fri at 06:00"),
    }
    for node, (type_, owner, schedule) in expected.items():
        line = row_of(out, node)
        assert line.split()[:3] == [node, type_, owner]
        assert line.endswith(schedule)
    assert last_line(out) == "8 nodes"

    # filters narrow the list
    carol = cli.ok("nodes", "--owner", "carol").out
    assert last_line(carol) == "2 nodes" and "flaky" in carol and "extract" not in carol
    assert last_line(cli.ok("nodes", "--type", "shell").out) == "3 nodes"
    assert last_line(cli.ok("nodes", "--text", "DIG").out) == "1 node"

    listed = cli.ok("nodes", "--json").json
    assert sorted(n["name"] for n in listed) == sorted(expected)
    digest = next(n for n in listed if n["name"] == "digest")
    assert (digest["type"], digest["owner"], digest["cron"], digest["schedule"]) == (
        "virtual",
        "dave",
        "00 00 06 * * 1,5",
        "weekly on Mon, Fri at 06:00",
    )
    assert digest["frozen"] is False and digest["state"] == "deployed"


def test_node_shows_cron_words_next_fire_times_dependencies_and_code(cli: Operator) -> None:
    now = cli.w.clock.now()
    assert now == START  # Saturday 2025-11-01 01:00 UTC

    out = cli.ok("node", "extract").out
    lines = out.splitlines()
    assert lines[0].startswith("extract · shell · owner bob · priority 1 · group default")
    assert "schedule: daily at 00:30  (cron 00 30 00 * * ?)" in lines
    # daily at 00:30, strictly after Saturday 01:00: Sunday 00:30 onwards
    daily = [datetime(2025, 11, d, 0, 30) for d in range(2, 7)]
    assert f"next: {', '.join(f'{t:%m-%d %H:%M} UTC' for t in daily)}" in lines
    assert "upstream: ws_root" in lines
    assert "downstream: report" in lines
    assert "parameters: day=${yyyymmdd} bizdate=$bizdate" in lines
    assert lines[lines.index("code:") + 1] == 'echo "extracting $day"'
    assert "auto rerun 1x" in out

    # Mondays and Fridays at 06:00, after Saturday 2025-11-01 01:00
    weekly = []
    day = TODAY
    while len(weekly) < 5:
        moment = datetime(day.year, day.month, day.day, 6, 0)
        if day.weekday() in (0, 4) and moment > now.replace(tzinfo=None):
            weekly.append(moment)
        day += timedelta(days=1)
    assert [f"{t:%m-%d}" for t in weekly] == ["11-03", "11-07", "11-10", "11-14", "11-17"]
    out = cli.ok("node", "digest").out
    assert "schedule: weekly on Mon, Fri at 06:00  (cron 00 00 06 * * 1,5)" in out
    assert f"next: {', '.join(f'{t:%m-%d %H:%M} UTC' for t in weekly)}" in out
    assert "downstream: -" in out
    assert "code" not in out.split("parameters:")[1]  # a virtual node has no code

    stage = cli.ok("node", "stage").out
    assert "upstream: broken" in stage and "downstream: report" in stage

    shown = cli.ok("node", "digest", "--json").json
    assert shown["node"]["name"] == "digest"
    assert shown["node"]["cron"] == "00 00 06 * * 1,5"
    assert shown["node"]["schedule"] == "weekly on Mon, Fri at 06:00"
    assert shown["node"]["upstreams"] == ["ws_root"] and shown["node"]["downstreams"] == []
    assert [datetime.fromisoformat(t) for t in shown["next_fire_times"]] == [
        t.replace(tzinfo=now.tzinfo) for t in weekly
    ]
    code = cli.ok("node", "report", "--json").json["node"]
    assert code["upstreams"] == ["extract", "stage"] and code["type"] == "virtual"

    assert cli.not_found("node", "nope") == "no node 'nope' in workspace ws"


# ---------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------


def test_instances_of_a_business_date_show_status_node_cyctime_and_attempts(
    cli: Operator,
) -> None:
    out = cli.ok("instances", "--bizdate", "2025-10-31").out
    w = cli.w
    expected = {
        "extract": ("✓ SUCCESS", "1/2"),
        "flaky": ("✓ SUCCESS", "2/2"),
        "broken": ("✗ FAILURE", "1/1"),
        "stage": ("○ NOT_RUN", "-"),
        "report": ("○ NOT_RUN", "-"),
    }
    for node, (label, attempts) in expected.items():
        line = row_of(out, node)
        instance_id, glyph, word, name, day, hour, tried = line.split()[:7]
        assert (instance_id, f"{glyph} {word}", name) == (str(w.instance(node).id), label, node)
        assert (f"{day} {hour}", tried) == ("11-01 00:30", attempts)
    assert "11-01 05:00" in row_of(out, "later") and "WAIT_TIME" in row_of(out, "later")
    assert row_of(out, "report").endswith("bob")
    assert last_line(out) == "8 of 8 shown"
    # the default business date is yesterday, workspace time
    assert cli.ok("instances").out == out

    failed = cli.ok("instances", "--status", "FAILURE").out
    assert "broken" in failed and "extract" not in failed
    assert last_line(failed) == "1 of 1 shown"
    both = cli.ok("instances", "--status", "failure, not_run").out
    assert last_line(both) == "3 of 3 shown"
    one = cli.ok("instances", "--node", "flaky").out
    assert last_line(one) == "1 of 1 shown" and "flaky" in one
    first = cli.ok("instances", "--limit", "1").out
    assert last_line(first) == "1 of 8 shown" and "ws_root" in first
    assert last_line(cli.ok("instances", "--owner", "dave").out) == "2 of 2 shown"
    newest = cli.ok("instances", "--desc", "--limit", "1").out
    assert "digest" in newest and "11-01 06:00" in newest
    assert last_line(cli.ok("instances", "--bizdate", "2025-10-01").out) == "0 of 0 shown"


def test_instances_as_json_page_through_and_every_date(cli: Operator) -> None:
    page = cli.ok("instances", "--limit", "2", "--json").json
    assert set(page) == {"items", "total", "next_after"}
    assert page["total"] == 8 and len(page["items"]) == 2
    last = page["items"][-1]
    assert page["next_after"] == [last["cyctime"], last["id"]]
    flaky = cli.ok("instances", "--node", "flaky", "--json").json
    assert flaky["next_after"] is None
    [item] = flaky["items"]
    assert (item["node"], item["status"], item["status_label"]) == ("flaky", "SUCCESS", "✓ SUCCESS")
    assert (item["run_number"], item["max_attempts"], item["bizdate"]) == (2, 2, "2025-10-31")
    assert item["cyctime"] == "2025-11-01T00:30:00+00:00" and item["kind"] == "periodic"

    # tomorrow's instances (bizdate 11-01) are generated at midnight
    cli.w.go(at(0, 5, day=TODAY + timedelta(days=1)))
    every = cli.ok("instances", "--all-dates", "--node", "later", "--json").json
    assert [i["bizdate"] for i in every["items"]] == ["2025-10-31", "2025-11-01"]
    assert last_line(cli.ok("instances", "--all-dates").out) == "16 of 16 shown"
    # the default date moved with the clock: yesterday is now 11-01
    assert last_line(cli.ok("instances").out) == "8 of 8 shown"
    assert "11-02 05:00" in row_of(cli.ok("instances").out, "later")


# ---------------------------------------------------------------------------
# one instance: show, why, logs
# ---------------------------------------------------------------------------


def test_show_lists_the_attempts_and_who_triggered_them(cli: Operator) -> None:
    flaky = cli.w.instance("flaky")
    out = cli.ok("show", str(flaky.id)).out
    lines = out.splitlines()
    assert lines[0] == (
        f"flaky · #{flaky.id} · periodic · cyctime 2025-11-01 00:30 UTC · bizdate 20251031"
    )
    assert lines[1].startswith("✓ SUCCESS · attempt 2 of 2 · group default")
    assert lines[2].startswith("  attempt 1: ✗ FAILURE")
    assert "by scheduler" in lines[2] and "exit code 3" in lines[2]
    assert lines[3].startswith("  attempt 2: ✓ SUCCESS") and "by auto rerun 1/1" in lines[3]

    # an operator's rerun is the next attempt, triggered by them
    broken = cli.w.instance("broken")
    cli.ok("rerun", str(broken.id))
    cli.w.idle()
    shown = cli.ok("show", str(broken.id), "--json").json
    assert shown["instance"]["node"] == "broken" and shown["instance"]["status"] == "FAILURE"
    assert [(a["number"], a["status"]) for a in shown["attempts"]] == [
        (1, "FAILURE"),
        (2, "FAILURE"),
    ]
    assert shown["attempts"][0]["triggered_by"] == "scheduler"
    assert shown["attempts"][1]["triggered_by"] == f"rerun by {os_user()}"
    assert f"by rerun by {os_user()}" in cli.ok("show", str(broken.id)).out

    assert cli.not_found("show", "999") == "no instance #999 in workspace ws"

    # a virtual node succeeds without an attempt: it never reads "not run yet"
    root = cli.w.instance("ws_root")
    assert (
        cli.ok("show", str(root.id))
        .out.splitlines()[1]
        .startswith("✓ SUCCESS · no attempt · group default")
    )


def test_why_names_the_deepest_blocker_and_a_time_not_yet_come(cli: Operator) -> None:
    w = cli.w
    report, broken, stage = w.instance("report"), w.instance("broken"), w.instance("stage")
    out = cli.ok("why", str(report.id)).out
    summary = out.splitlines()[0]
    assert summary.startswith(f"#{report.id}: waiting for 1 upstream instance;")
    # not the direct upstream (stage, NOT_RUN) but the one that failed above it
    assert f"the deepest blocker: broken #{broken.id} (✗ FAILURE, cyctime 11-01 00:30)" in summary
    assert f"stage #{stage.id}" not in out
    assert "  ✗ upstream" in out and "  ✓ frozen" in out and "  ✓ time" in out

    later = w.instance("later")
    out = cli.ok("why", str(later.id)).out
    assert out.splitlines()[0] == f"#{later.id}: scheduled for 2025-11-01 05:00, in 4h00m"
    assert "  ✓ upstream  every upstream instance succeeded" in out
    assert "  ✗ time      scheduled for 2025-11-01 05:00, in 4h00m" in out

    diagnosis = cli.ok("why", str(report.id), "--json").json
    assert diagnosis["instance_id"] == report.id
    upstream = next(s for s in diagnosis["steps"] if s["check"] == "upstream")
    assert upstream["ok"] is False and upstream["instance_ids"] == [broken.id]
    failed = cli.ok("why", str(broken.id)).out
    assert failed.splitlines()[0] == f"#{broken.id}: failed: exit code 2: boom"

    assert cli.not_found("why", "999") == "no instance #999 in workspace ws"


def test_logs_print_the_header_and_the_body_of_an_attempt(cli: Operator) -> None:
    extract = cli.w.instance("extract")
    out = cli.ok("logs", str(extract.id)).out
    head, _rule, body = out.partition("-" * 60 + "\n")
    assert head.splitlines() == [
        "node:         extract (shell)",
        f"instance id:  {extract.id}",
        "cyctime:      2025-11-01 00:30:00 UTC",  # the workspace's zone, said
        f"started:      {cli.w.attempts('extract')[0].started_at:%Y-%m-%d %H:%M:%S} UTC",
        "bizdate:      20251031",
        "attempt:      1",
        "triggered by: scheduler",
        "parameters:",
        "  day=20251031",
        "  bizdate=20251031",
    ]
    assert "extracting 20251031\n" in body
    assert "finished: exit code 0" in body

    # the latest attempt by default; --attempt 1 is the failure the auto rerun repaired
    flaky = cli.w.instance("flaky")
    latest = cli.ok("logs", str(flaky.id)).out
    assert "attempt:      2" in latest and "triggered by: auto rerun 1/1" in latest
    assert "try 2" in latest and "finished: exit code 0" in latest and "try 1" not in latest
    first = cli.ok("logs", str(flaky.id), "--attempt", "1").out
    assert "attempt:      1" in first and "triggered by: scheduler" in first
    assert "try 1" in first and "failed: exit code 3" in first and "try 2" not in first

    assert (
        cli.not_found("logs", str(flaky.id), "--attempt", "3")
        == f"instance #{flaky.id} has no attempt 3 (it has 1..2)"
    )
    later = cli.w.instance("later")
    assert cli.refused("logs", str(later.id)) == f"instance #{later.id} has not run yet: no log"


FOLLOWED = """
    nodes:
      - name: tail_me
        type: shell
        code: 'echo start; while [ ! -f "$OPSCENTER_LANDING/stop" ]; do sleep 0.05; done; echo end'
        trigger: {cron: "00 30 00 * * ?"}
"""


def test_logs_follow_prints_a_running_log_as_it_grows_and_ends_with_the_attempt(
    world: MakeWorld, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(FOLLOWED)
    w.engine.start()
    w.wait_for(lambda: w.status("tail_me") is Status.RUNNING)
    instance = w.instance("tail_me")
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(store.url)]
    capsys.readouterr()
    returned: list[int] = []
    follower = threading.Thread(
        target=lambda: returned.append(
            main(["logs", str(instance.id), "--follow", *where], clock=w.clock)
        ),
        daemon=True,
    )
    follower.start()
    seen = ""
    deadline = time.monotonic() + 2.5
    while "start\n" not in seen:
        assert time.monotonic() < deadline, f"the follower printed only {seen!r}"
        w.tick(1)
        time.sleep(0.02)
        seen += capsys.readouterr().out
    assert follower.is_alive(), "the follower must wait while the attempt runs"
    assert "end" not in seen.split("start\n", 1)[1]
    assert "node:         tail_me (shell)" in seen  # the header came first

    (landing(w) / "stop").touch()
    while follower.is_alive():
        assert time.monotonic() < deadline, f"the follower did not end; it printed {seen!r}"
        w.tick(1)
        follower.join(0.02)
    seen += capsys.readouterr().out
    assert returned == [0]
    assert seen.index("start\n") < seen.index("end\n") < seen.index("finished: exit code 0")
    assert w.status("tail_me") is Status.SUCCESS
    assert seen.count("end\n") == 1  # nothing printed twice


# ---------------------------------------------------------------------------
# actions
# ---------------------------------------------------------------------------


def test_actions_say_what_happened_and_which_instances(cli: Operator) -> None:
    w = cli.w
    ids = {n: w.instance(n).id for n in ("extract", "broken", "stage", "report", "later")}

    out = cli.ok("rerun", str(ids["broken"]), "--downstream").out
    assert out.splitlines() == [
        "rerun downstream: 3 instances reset to NOT_RUN; "
        "they run when their upstream instances succeed",
        f"  instances: {ids['broken']}, {ids['stage']}, {ids['report']}",
    ]
    w.idle()
    assert w.status("broken") is Status.FAILURE and len(w.attempts("broken")) == 2

    out = cli.ok("rerun", str(ids["extract"])).out
    assert out.startswith(
        "rerun: 1 instance reset to NOT_RUN; it runs when its upstream instances succeed\n"
    )
    assert out.splitlines()[1] == f"  instances: {ids['extract']}"
    w.idle()
    assert w.status("extract") is Status.SUCCESS and len(w.attempts("extract")) == 2

    out = cli.ok("set-success", str(ids["broken"])).out
    assert out.splitlines() == [
        "set success: 1 instance set to SUCCESS; its downstream instances may now run",
        f"  instances: {ids['broken']}",
    ]
    w.idle()
    assert (w.status("stage"), w.status("report")) == (Status.SUCCESS, Status.SUCCESS)

    out = cli.ok("freeze", str(ids["later"])).out
    assert out.splitlines() == ["freeze: 1 instance frozen", f"  instances: {ids['later']}"]
    assert w.status("later") is Status.FROZEN
    assert "frozen by" in cli.ok("why", str(ids["later"])).out

    out = cli.ok("unfreeze", str(ids["later"])).out
    assert out.startswith(
        "unfreeze: 1 instance unfrozen; it runs when its upstream instances succeed "
        "and its time has come\n"
    )
    assert out.splitlines()[1] == f"  instances: {ids['later']}"
    w.idle()
    assert w.status("later") is Status.WAIT_TIME

    result = cli.ok("stop", str(ids["later"]), "--json").json
    assert result["action"] == "stop" and result["affected"] == [ids["later"]]
    assert result["message"] == "1 instance stopped"
    assert w.status("later") is Status.FAILURE

    out = cli.ok("freeze", "--node", "digest").out
    assert out.startswith("freeze node: node digest frozen: instances generated from now on")
    assert "instances:" not in out  # no instance changed today
    assert row_of(cli.ok("nodes").out, "digest").endswith("❄ frozen")
    assert cli.refused("freeze", "--node", "digest") == "node digest is already frozen"
    out = cli.ok("unfreeze", "--node", "digest").out
    assert out.startswith("unfreeze node: node digest unfrozen")
    assert "frozen" not in row_of(cli.ok("nodes").out, "digest")


def test_a_refusal_exits_3_with_the_reason_and_changes_nothing(cli: Operator) -> None:
    later = cli.w.instance("later")
    run = cli("set-success", str(later.id))
    reason = f"#{later.id} later: is WAIT_TIME; only a FAILURE can be set to success"
    assert (run.code, run.out, run.err) == (3, "", f"refused: {reason}\n")

    run = cli("set-success", str(later.id), "--json")
    assert run.code == 3 and run.json == {"refused": reason}
    assert run.err == f"refused: {reason}\n"

    extract, broken = cli.w.instance("extract"), cli.w.instance("broken")
    # one bad target refuses the whole action
    reason = cli.refused("stop", str(later.id), str(extract.id))
    assert reason == (
        f"#{extract.id} extract: is SUCCESS; stop needs RUNNING, WAIT_TIME, WAIT_RESOURCE"
    )
    assert cli.w.status("later") is Status.WAIT_TIME
    assert cli.refused("unfreeze", str(broken.id)) == f"#{broken.id} broken: is FAILURE, not FROZEN"
    assert cli.not_found("rerun", "999") == "no instance #999 in workspace ws"
    nothing = cli("freeze")  # no ids and no --node: a usage mistake, not a refusal
    assert nothing.code == 2 and "give instance ids, or --node NAME" in nothing.err
    assert cli.not_found("freeze", "--node", "nope") == "no node 'nope' in workspace ws"


def test_readonly_refuses_every_action_and_the_audit_shows_it(cli: Operator) -> None:
    w = cli.w
    broken, later = str(w.instance("broken").id), str(w.instance("later").id)
    actions = {
        "rerun": ["rerun", broken],
        "rerun downstream": ["rerun", broken, "--downstream"],
        "set success": ["set-success", broken],
        "stop": ["stop", later],
        "freeze": ["freeze", later],
        "unfreeze": ["unfreeze", later],
        "freeze node": ["freeze", "--node", "later"],
        "unfreeze node": ["unfreeze", "--node", "later"],
        "backfill": ["backfill", "extract", "--from", "2025-03-01", "--to", "2025-03-02"],
        "undeploy": ["undeploy", "digest"],
        "handle event": ["event", "1", "fixing"],
    }
    for action, argv in actions.items():
        reason = cli.refused("--readonly", *argv)
        assert reason == f"{action} is not available: opscenter runs read-only (--readonly)"
    # after the verb, too; and as JSON
    run = cli("rerun", broken, "--readonly", "--json")
    assert run.code == 3
    assert run.json == {"refused": "rerun is not available: opscenter runs read-only (--readonly)"}

    # nothing changed; reading still works
    assert (w.status("broken"), w.status("later")) == (Status.FAILURE, Status.WAIT_TIME)
    assert "digest" in cli.ok("nodes", "--readonly").out
    span = ["--from", "2025-03-01", "--to", "2025-03-02"]
    preview = cli.ok("backfill", "extract", *span, "--preview", "--readonly").out
    assert preview.startswith("backfill preview: 2 instances")
    assert cli.ok("backfills").out.strip() == "no backfills"

    entries = cli.ok("audit", "--json").json
    refused = [e for e in entries if e["outcome"] == "refused"]
    assert [e["action"] for e in reversed(refused)] == [*actions, "rerun"]
    assert {e["user"] for e in refused} == {os_user()}
    assert all(e["detail"].endswith("opscenter runs read-only (--readonly)") for e in refused)
    text = cli.ok("audit").out
    first = text.splitlines()[0].split()
    assert first[2:6] == ["UTC", os_user(), "rerun", "refused"]


def test_audit_lists_who_did_what_and_how_it_ended(cli: Operator) -> None:
    w = cli.w
    broken, later = w.instance("broken").id, w.instance("later").id
    cli.ok("set-success", str(broken))
    cli.refused("set-success", str(later))
    out = cli.ok("audit").out
    lines = out.splitlines()
    assert len(lines) == 3
    user = os_user()
    newest, done, deployed = (line.split() for line in lines)
    assert newest[:7] == ["2025-11-01", "01:00:00", "UTC", user, "set", "success", "refused"]
    assert newest[7] == str(later)
    assert done[:8] == ["2025-11-01", "01:00:00", "UTC", user, "set", "success", "ok", str(broken)]
    assert "1 instance set to SUCCESS" in lines[1]
    assert deployed[2:7] == ["UTC", "tester", "deploy", "ok", "ws"]
    assert cli.ok("audit", "--limit", "1").out.strip() == lines[0].strip()
    [entry] = cli.ok("audit", "--limit", "1", "--json").json
    assert (entry["user"], entry["action"], entry["outcome"], entry["targets"]) == (
        user,
        "set success",
        "refused",
        [later],
    )
    assert entry["source"] == "cli" and entry["at"] == "2025-11-01T01:00:00+00:00"


# ---------------------------------------------------------------------------
# backfill and undeploy
# ---------------------------------------------------------------------------

BACKFILLED = """
    nodes:
      - name: load
        type: shell
        owner: bob
        parameters: {day: "${yyyymmdd}"}
        code: 'echo "loading $day"; [ "$day" != 20250302 ]'
        trigger: {cron: "00 30 00 * * ?"}
      - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}}
"""


def test_backfill_preview_creates_nothing_and_a_backfill_shows_progress_per_date(
    world: MakeWorld, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(BACKFILLED).start()
    cli = operator(w, tmp_path, store, capsys)
    span = ["--from", "2025-03-01", "--to", "2025-03-03"]

    out = cli.ok("backfill", "load", *span, "--preview").out
    assert out.strip() == "backfill preview: 3 instances of 1 node over 3 business dates"
    preview = cli.ok("backfill", "load", *span, "--preview", "--json").json
    assert preview["extra"] == {"instances": 3, "dates": 3}
    assert cli.ok("backfills").out.strip() == "no backfills"
    assert cli.ok("backfills", "--json").json == []
    assert last_line(cli.ok("instances", "--kind", "backfill", "--all-dates").out) == "0 of 0 shown"

    created = cli.ok("backfill", "load", *span, "--json").json
    backfill_id = created["extra"]["backfill_id"]
    assert created["message"] == (
        f"backfill #{backfill_id} created: 3 instances of 1 node over 3 business dates"
    )
    out = cli.ok("backfills").out
    assert f"#{backfill_id} " in out.splitlines()[0]
    assert "0/3 dates done · parallel 1 · by " + os_user() in out
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["2025-03-01", "WAITING"],
        ["2025-03-02", "WAITING"],
        ["2025-03-03", "WAITING"],
    ]

    w.idle()  # 03-01 succeeds, 03-02 fails, so 03-03 waits (one date at a time)
    out = cli.ok("backfills", str(backfill_id)).out
    assert "· FAILURE · 1/3 dates done" in out.splitlines()[0]
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["2025-03-01", "SUCCESS", "✓1"],
        ["2025-03-02", "FAILURE", "✗1"],
        ["2025-03-03", "WAITING"],
    ]
    [info] = cli.ok("backfills", "--json").json
    assert info["id"] == backfill_id and info["dates_done"] == 1
    assert [r["status"] for r in info["runs"]] == ["SUCCESS", "FAILURE", "WAITING"]

    # its instances, by backfill and across business dates
    listed = cli.ok("instances", "--backfill", str(backfill_id), "--all-dates").out
    assert last_line(listed) == "2 of 2 shown"
    assert "✓ SUCCESS" in listed and "✗ FAILURE" in listed and "03-02 00:30" in listed
    every = cli.ok("instances", "--all-dates", "--node", "load", "--json").json
    assert [(i["bizdate"], i["kind"]) for i in every["items"]] == [
        ("2025-03-01", "backfill"),
        ("2025-03-02", "backfill"),
        ("2025-10-31", "periodic"),
    ]
    failed = every["items"][1]
    assert "loading 20250302" in cli.ok("logs", str(failed["id"])).out

    # the failed date repaired: the next one runs
    cli.ok("set-success", str(failed["id"]))
    w.idle()
    done = cli.ok("backfills", str(backfill_id)).out
    assert "· SUCCESS · 3/3 dates done" in done
    assert cli.not_found("backfills", "99") == "no backfill #99 in workspace ws"


def test_backfill_window_refusals_say_why(
    world: MakeWorld, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(BACKFILLED).start()
    cli = operator(w, tmp_path, store, capsys)
    day = ["--from", "2025-03-01", "--to", "2025-03-01"]
    out = cli.ok("backfill", "hourly", *day, "--window", "08:00-10:00", "--preview").out
    assert out.strip() == "backfill preview: 3 instances of 1 node over 1 business date"

    reason = cli.refused("backfill", "hourly", *day, "--window", "8 to 10")
    assert "8 to 10" in reason and reason.endswith("is not HH:MM-HH:MM")
    reason = cli.refused("backfill", "hourly", *day, "--window", "25:00-26:00")
    assert "25:00" in reason and reason.endswith("is not HH:MM-HH:MM")
    assert (
        cli.refused("backfill", "hourly", *day, "--window", "10:00-08:00")
        == "the window ends before it starts"
    )
    assert cli.refused("backfill", "hourly", *day, "--window", "10:15-10:45") == (
        "node hourly has no scheduled time inside the window 10:15-10:45 "
        "(hourly at :00, 00:00–23:00)"
    )
    run = cli("backfill", "hourly", *day, "--window", "10:00-08:00", "--json")
    assert run.code == 3 and run.json == {"refused": "the window ends before it starts"}
    assert (
        cli.refused("backfill", "load", "--from", "2025-03-02", "--to", "2025-03-01")
        == "the range ends (2025-03-01) before it starts (2025-03-02)"
    )
    # nothing was created, and each refusal is on the audit trail
    assert cli.ok("backfills").out.strip() == "no backfills"
    audit = cli.ok("audit", "--json").json
    assert [e["outcome"] for e in audit if e["action"] == "backfill"] == ["refused"] * 6


def test_undeploy_of_a_node_with_descendants_is_refused_naming_them(cli: Operator) -> None:
    assert (
        cli.refused("undeploy", "broken")
        == "node broken has descendant nodes: stage; undeploy them first"
    )
    run = cli("undeploy", "ws_root", "--json")
    assert run.code == 3 and run.json == {"refused": "the workspace root node cannot be undeployed"}
    assert "stage" in cli.ok("nodes").out

    report = cli.w.instance("report")
    out = cli.ok("undeploy", "report").out
    assert out.splitlines() == [
        "undeploy: node report undeployed: no new instances; 1 pending instance will dry-run",
        f"  instances: {report.id}",
    ]
    assert " report " not in cli.ok("nodes").out
    assert "· undeployed" in cli.ok("node", "report").out.splitlines()[0]
    assert cli.refused("undeploy", "report") == "node 'report' is not deployed"


# ---------------------------------------------------------------------------
# baselines, events, alerts
# ---------------------------------------------------------------------------

GUARDED = """
    nodes:
      - {name: extract, type: shell, code: "echo rows", trigger: {cron: "00 30 00 * * ?"}}
      - {name: broken, type: shell, code: "echo boom; exit 1", depends: [extract],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [broken], trigger: {cron: "00 30 00 * * ?"}}
    baselines:
      - {name: morning, owner: bob, priority: 5, committed_time: "06:00", margin: 30,
         nodes: [report]}
    alerts:
      - {name: broken_failed, trigger: Error, nodes: [broken]}
"""


def test_baselines_key_path_events_and_alerts(
    world: MakeWorld, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(GUARDED).start()
    cli = operator(w, tmp_path, store, capsys)
    broken = w.instance("broken")

    out = cli.ok("baselines").out
    lines = out.splitlines()
    assert lines[0] == "Baselines · bizdate 2025-10-31 · times in UTC"
    [morning] = [line for line in lines if "morning" in line]
    # broken failed with no automatic rerun left: the baseline is blocked, at risk, no guess
    assert morning.split()[:3] == ["!", "WARNING", "morning"]
    assert "pred --:--" in morning
    assert "commit 06:00" in morning and "alert 05:30" in morning and "p5" in morning
    assert f"blocked by #{broken.id} broken ✗ FAILURE · if rerun now" in out
    assert cli.ok("baselines", "--bizdate", "2025-10-30").out.strip() == (
        "no baseline instances for bizdate 2025-10-30"
    )

    out = cli.ok("baseline", "morning", "--keypath").out
    lines = out.splitlines()
    assert lines[0].startswith("morning · bizdate 2025-10-31 · ! WARNING · predicted --:--")
    assert lines[1].startswith(f"blocked by #{broken.id} broken ✗ FAILURE · if rerun now")
    assert "committed 06:00 · alert 05:30 · protects 4 instances" in lines[0]
    gantt = [line for line in lines if line.endswith("|")]
    assert [row.split()[2] for row in gantt] == ["ws_root", "extract", "broken", "report"]
    assert gantt[2].split()[:2] == ["✗", "FAILURE"] and gantt[3].split()[:2] == ["○", "NOT_RUN"]
    bars = [row[row.index("|") + 1 : -1] for row in gantt]
    assert all(len(bar) == 32 and "█" in bar for bar in bars)
    assert bars[3].index("█") > bars[2].index("█")  # the report starts after broken
    assert "Events" in lines
    assert lines[-1].split()[:3] == ["#1", "ERROR", "NEW"]
    assert lines[-1].endswith(f"broken #{broken.id} failed and blocks the baseline")
    # without --keypath: no Gantt
    assert "|" not in cli.ok("baseline", "morning").out
    detail = cli.ok("baseline", "morning", "--json").json
    assert [s["instance"]["node"] for s in detail["key_path"]] == [
        "ws_root",
        "extract",
        "broken",
        "report",
    ]
    assert detail["status"]["committed_at"] == "2025-11-01T06:00:00+00:00"

    out = cli.ok("events").out.strip()
    assert out.split()[:5] == ["#1", "ERROR", "NEW", "morning", "20251031"]
    assert out.endswith(f"broken #{broken.id} failed and blocks the baseline")
    [event] = cli.ok("events", "--open", "--json").json
    assert (event["kind"], event["node"], event["instance_id"]) == ("ERROR", "broken", broken.id)

    out = cli.ok("alerts").out.strip()
    assert out.split()[:7] == ["#1", "11-01", "01:00", "UTC", "broken_failed", "Error", "sent"]
    assert "1x open" in out and f"broken #{broken.id}" in out and "failed" in out
    [alert] = cli.ok("alerts", "--json").json
    assert (alert["rule"], alert["target"], alert["resolved_at"]) == (
        "broken_failed",
        f"instance:{broken.id}",
        None,
    )

    # the operator repairs it: the baseline finishes, the alert resolves
    cli.ok("set-success", str(broken.id))
    w.idle()
    [morning] = cli.ok("baselines", "--json").json
    assert (morning["status"], morning["finished"]) == ("SAFE", True)
    assert cli.ok("alerts", "--json").json[0]["resolved_at"] == "2025-11-01T01:00:00+00:00"
    assert "resolved" in cli.ok("alerts").out


# ---------------------------------------------------------------------------
# mistakes on the command line: a usage message, never a traceback
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["instances", "--status", "BOGUS"], "'BOGUS' is not a status"),
        (["instances", "--status", "FAILURE,"], "is not a status"),
        (["instances", "--limit", "-3"], "is not a positive number"),
        (["instances", "--limit", "0"], "is not a positive number"),
        (["audit", "--limit", "-1"], "is not a positive number"),
        (["backfill", "extract", "--from", "2025-03-01"], "--to"),
        (["rerun"], "ID"),
    ],
)
def test_bad_arguments_are_a_usage_error(
    cli: Operator, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*argv, *cli.where], clock=cli.w.clock)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_backfill_zero_is_not_every_backfill(cli: Operator) -> None:
    cli.ok("backfill", "extract", "--from", "2025-03-01", "--to", "2025-03-01")
    assert cli.ok("backfills").out.startswith("#1 ")
    assert cli.not_found("backfills", "0") == "no backfill #0 in workspace ws"


def test_an_undeployed_workspace_and_an_invalid_one_say_so(
    tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "workspace.yaml").write_text("workspace: {name: bad}\nnodes: 3\n")
    assert main(["nodes", "--workspace", str(tmp_path / "bad"), "--db", str(store.url)]) == 1
    err = capsys.readouterr().err
    assert "workspace.yaml" in err and "Traceback" not in err

    assert main(["instances", "--workspace", "elsewhere", "--db", str(store.url)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "opscenter: workspace elsewhere is not deployed in this store; run 'opscenter deploy PATH'"
    )


def test_instances_kind_filter_keeps_periodic_apart(cli: Operator) -> None:
    cli.ok("backfill", "extract", "--from", "2025-03-01", "--to", "2025-03-01")
    cli.w.idle()
    periodic = cli.ok("instances", "--all-dates", "--kind", "periodic", "--json").json
    assert {i["kind"] for i in periodic["items"]} == {InstanceKind.PERIODIC.value}
    backfill = cli.ok("instances", "--all-dates", "--kind", "backfill", "--json").json
    assert [(i["node"], i["bizdate"]) for i in backfill["items"]] == [("extract", "2025-03-01")]
    assert periodic["total"] + backfill["total"] == len(
        cli.w.backend.list_instances(InstanceFilter(limit=500)).items
    )
