"""Every DataWorks rule is written once, in domain/, and every screen reads it from there.

The CLI and the console once disagreed about the same instance because each kept its own
copy: the SLOW mark was '> 1.5x' in the CLI, '>= 1.5x' in the console and decision 13.10
in the SLA events; durations were rounded in one place and truncated in another; the
default business date and the rerun preconditions were written again by each backend.
These tests pin the one definition of each, scan the sources for a second one, and make
the CLI, the console and both backends say the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine as Database

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.cli import main
from opscenter.domain.model import Status
from opscenter.domain.preconditions import descendant_refusal, refusal
from opscenter.domain.records import ActionRefused
from opscenter.domain.rules import (
    default_bizdate,
    duration_text,
    is_slow,
    minutes_text,
    run_time_text,
)
from opscenter.tui import format as fmt
from opscenter.tui.app import OpsApp
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import API_VERSIONS, over_dataworks
from tests.test_sla import AVERAGES, START, VECTOR
from tests.test_sla import World as SlaWorld
from tests.tui.helpers import screen_text, settle, until

SOURCES = Path(__file__).resolve().parent.parent / "opscenter"
RULES = "domain/rules.py"
PRECONDITIONS = "domain/preconditions.py"

# -- (a) one definition each: a second copy in the sources fails here -----------------------

# (what a copy looks like, where the one definition lives)
COPIES = {
    "the SLOW factor used outside is_slow": (
        r"1\.5\s*\*|\*\s*1\.5\b|SLOW_FACTOR\s*\*|[<>]=?\s*(\w+\.)?SLOW_FACTOR|^\s*SLOW_FACTOR\s*=",
        RULES,
    ),
    "a SLOW test": (r"^def is_slow\b", RULES),
    "a duration worded with hours, minutes, seconds": (r":02d?\}[hms]", RULES),
    "a number of minutes worded by hand": (
        r"//\s*60\)?\}m|\{[^{}]*:\+d\}m|"
        r"\{[^{}]*(?<!cron\.)\b(minutes|margin|timeout|slack)\b[^{}]*\}m\b",
        RULES,
    ),
    "a duration function": (r"^def _?(duration|minutes)(_text)?\(", RULES),
    "yesterday as the business date": (
        r"\.date\(\)\s*-\s*timedelta\((days=)?1\)|^def (default_bizdate|bizdate_of)\b",
        RULES,
    ),
    "an action's status group": (
        r"^\s*(RERUN|STOP|FREEZE|UNFREEZE|SET_SUCCESS)_FROM\s*=|"
        r"\(Status\.SUCCESS, Status\.FAILURE, Status\.NOT_RUN\)",
        PRECONDITIONS,
    ),
    "a refusal's words": (
        r"(rerun|stop|freeze) needs|only a FAILURE can|not FROZEN\"|rerun mode is|stop it first\"",
        PRECONDITIONS,
    ),
    "which log line is error output": (
        r"[\"']error[\"'] in \w+\.lower\(\)|r\"Traceback\|",
        "domain/runlog.py",
    ),
}


def _hits(pattern: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCES.rglob("*.py")):
        name = path.relative_to(SOURCES).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(pattern, line):
                found.setdefault(name, []).append(f"{name}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("what", sorted(COPIES))
def test_each_rule_is_defined_once_in_domain(what: str) -> None:
    pattern, home = COPIES[what]
    found = _hits(pattern)
    assert home in found, f"{what}: the one definition is no longer in {home}"
    elsewhere = [line for name, lines in found.items() if name != home for line in lines]
    assert elsewhere == [], f"{what} written again outside {home}:\n" + "\n".join(elsewhere)


def test_the_scan_would_see_the_copies_this_replaced() -> None:
    """The patterns catch what the sources held before (no silent pass)."""
    old = {
        "the SLOW factor used outside is_slow": "if item.duration > 1.5 * item.average else",
        "a duration worded with hours, minutes, seconds": 'return f"{s // 60}m{s % 60:02d}s"',
        "a number of minutes worded by hand": 'return f"{int(delta.total_seconds() // 60)}m"',
        "yesterday as the business date": "return self.local_now().date() - timedelta(days=1)",
        "an action's status group": "RERUN_FROM = (Status.SUCCESS, Status.FAILURE, Status.NOT_RUN)",
        "a refusal's words": 'return f"is {s}; rerun needs {words}"',
        "which log line is error output": 'errors = [x for x in lines if "error" in x.lower()]',
    }
    for what, line in old.items():
        assert re.search(COPIES[what][0], line), what
    assert re.search(COPIES["a number of minutes worded by hand"][0], 'f"{slack:+d}m"')
    assert re.search(COPIES["a number of minutes worded by hand"][0], 'f"margin {margin}m"')
    assert re.search(
        COPIES["the SLOW factor used outside is_slow"][0], "if ratio < fmt.SLOW_FACTOR:"
    )
    for line in ("def _duration(seconds):", "def duration(seconds):", "def minutes(delta):"):
        assert re.search(COPIES["a duration function"][0], line)


# -- (c) the rules at their boundaries ---------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "average", "slow"),
    [
        (90 * 60, 60 * 60, False),  # exactly 1.5 x: not more than it
        (90 * 60 + 1, 60 * 60, True),
        (15 * 60, 10 * 60, False),  # 1.5 x exactly and 5 minutes over
        (15 * 60 + 1, 10 * 60, False),  # over 1.5 x, under 10 minutes over
        (20 * 60 - 1, 10 * 60, False),
        (20 * 60, 10 * 60, True),  # exactly 10 minutes over, 2 x: slow
        (600, 0, True),  # a node that takes no time is slow 10 minutes in
        (599, 0, False),
        (None, 60, False),  # not run
        (3600, None, False),  # no history
    ],
)
def test_is_slow_at_its_boundaries(
    elapsed: float | None, average: float | None, slow: bool
) -> None:
    assert is_slow(elapsed, average) is slow
    if elapsed is not None and average is not None:  # the SLA passes timedeltas
        assert is_slow(timedelta(seconds=elapsed), timedelta(seconds=average)) is slow


@pytest.mark.parametrize(
    ("seconds", "text", "to_the_minute"),
    [
        (None, "-", "-"),
        (0, "0s", "0m"),
        (0.99, "0s", "0m"),  # truncated, never rounded up
        (59, "59s", "0m"),
        (59.9, "59s", "0m"),
        (60, "1m00s", "1m"),
        (61, "1m01s", "1m"),
        (3599, "59m59s", "59m"),
        (3599.9, "59m59s", "59m"),
        (3600, "1h00m", "1h00m"),  # hours from the first full hour, in both forms
        (3659, "1h00m", "1h00m"),
        (7 * 3600 + 5 * 60, "7h05m", "7h05m"),
        (-90, "-1m30s", "-1m"),
    ],
)
def test_duration_text_at_its_boundaries(
    seconds: float | None, text: str, to_the_minute: str
) -> None:
    assert duration_text(seconds) == text
    assert duration_text(seconds, minutes=True) == to_the_minute
    if seconds is not None:
        assert duration_text(timedelta(seconds=seconds)) == text


def test_minutes_read_as_durations_do() -> None:
    assert [minutes_text(m) for m in (0, 18, 59, 60, 110, 120, 615)] == [
        "0m",
        "18m",
        "59m",
        "1h00m",
        "1h50m",
        "2h00m",
        "10h15m",
    ]
    assert [minutes_text(m, signed=True) for m in (-18, 0, 80, -615)] == [
        "-18m",
        "+0m",
        "+1h20m",
        "-10h15m",
    ]
    assert minutes_text(95) == duration_text(95 * 60)  # an hour on, one wording


def test_run_time_text() -> None:
    assert run_time_text(None, 60) == ""
    assert run_time_text(45, None) == "45s"
    assert run_time_text(45, 0) == "45s"  # a node that takes no time: no bracket unless slow
    assert run_time_text(90 * 60, 3600) == "1h30m (avg 1h00m)"
    assert run_time_text(91 * 60, 3600) == "1h31m ▲ (avg 1h00m)"
    assert run_time_text(700, 0, mark="^", label="") == "11m40s ^ (0s)"


SHANGHAI, LOS_ANGELES = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("now", "zone", "bizdate"),
    [
        (datetime(2025, 11, 1, 15, 59, 59, tzinfo=UTC), SHANGHAI, date(2025, 10, 31)),
        (datetime(2025, 11, 1, 16, 0, tzinfo=UTC), SHANGHAI, date(2025, 11, 1)),  # 00:00 CST
        (datetime(2025, 11, 1, 2, 0, tzinfo=UTC), LOS_ANGELES, date(2025, 10, 30)),
        (datetime(2025, 11, 1, 0, 0, tzinfo=timezone(timedelta(hours=8))), UTC, date(2025, 10, 30)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), UTC, date(2025, 12, 31)),
    ],
)
def test_default_bizdate_is_yesterday_in_the_workspace_zone(
    now: datetime, zone: ZoneInfo, bizdate: date
) -> None:
    assert default_bizdate(now, zone) == bizdate


def test_the_preconditions_of_spec_6_1() -> None:
    allowed = {
        action: {s for s in Status if refusal(action, s) is None}
        for action in ("rerun", "set success", "stop", "freeze", "unfreeze")
    }
    assert allowed == {
        "rerun": {Status.SUCCESS, Status.FAILURE, Status.NOT_RUN},
        "set success": {Status.FAILURE},
        "stop": {Status.RUNNING, Status.WAIT_TIME, Status.WAIT_RESOURCE},
        "freeze": {Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE, Status.RUNNING},
        "unfreeze": {Status.FROZEN},
    }
    assert refusal("rerun", Status.SUCCESS, "FailureAllowed") == (
        "its node's rerun mode is FailureAllowed and it succeeded"
    )
    assert refusal("rerun", Status.FAILURE, "FailureAllowed") is None
    assert refusal("rerun", Status.FAILURE, "Denied") == "its node's rerun mode is Denied"
    assert refusal("rerun", Status.RUNNING, "Denied") == (
        "is RUNNING; rerun needs SUCCESS, FAILURE, NOT_RUN"  # the status is told first
    )
    assert refusal("freeze", Status.RUNNING, "Denied") is None  # the mode limits reruns only
    assert descendant_refusal(Status.RUNNING, "Allowed") == "descendant is RUNNING; stop it first"
    assert descendant_refusal(Status.SUCCESS, "Denied") == "descendant's rerun mode is Denied"
    assert descendant_refusal(Status.FAILURE, "FailureAllowed") is None


# -- (b) the CLI and the console say the same of the same instance ------------------------------


@pytest.fixture
def slow_world(tmp_path: Path, store: Database) -> Iterator[SlaWorld]:
    """Spec 7.4's chain: A usually takes 60 minutes and starts at 00:30."""
    w = SlaWorld(store, tmp_path / "ws", VECTOR, start=START, averages=AVERAGES)
    yield w
    w.close()


def _cli(w: SlaWorld, store: Database, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    where = ["--workspace", str(w.folder), "--db", str(store.url)]
    assert main([*argv, *where], clock=w.clock) == 0
    return capsys.readouterr().out


async def _console(w: SlaWorld, instance_id: int) -> tuple[str, str]:
    """The Instances list's row and the instance's header line, at 80x24."""
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "RUNNING" in screen_text(pilot), "the list")
        [row] = [line for line in screen_text(pilot).splitlines() if "● RUNNING" in line]
        app.open_instance(instance_id)
        await until(pilot, lambda: "attempt 1 of" in screen_text(pilot), "the instance")
        await settle(pilot)
        [head] = [line for line in screen_text(pilot).splitlines() if "attempt 1 of" in line]
    return row, head


@pytest.mark.skipif(not fmt.UNICODE, reason="the console marks ^ on an ASCII terminal")
async def test_the_cli_and_the_console_word_the_same_run_time_and_slow_mark(
    slow_world: SlaWorld, store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = slow_world
    w.go(at(0, 30))
    a = w.instance("A")
    assert a.status is Status.RUNNING
    # 02:00: A has run 90 minutes, exactly 1.5 x its hour: not SLOW anywhere (the console
    # once marked it, the CLI did not); 02:01: 91 minutes, SLOW everywhere
    for moment, took, slow in ((at(2, 0), "1h30m", False), (at(2, 1), "1h31m", True)):
        w.go(moment)
        now_utc = moment.astimezone(UTC).replace(tzinfo=None)
        info = w.backend.get_instance(a.id)
        assert duration_text(info.run_time(now_utc)) == took
        assert is_slow(info.run_time(now_utc), info.average) is slow
        worded = run_time_text(info.run_time(now_utc), info.average)
        assert worded == f"{took}{' ▲' if slow else ''} (avg 1h00m)"

        listed = _cli(w, store, capsys, "instances")
        [line] = [x for x in listed.splitlines() if x.split()[:1] == [str(a.id)]]
        shown = _cli(w, store, capsys, "show", str(a.id))
        row, head = await _console(w, a.id)

        assert f"{took}{'▲' if slow else ' '}(1h00m)" in line  # the CLI's 13 columns
        assert f" {took}{' ▲' if slow else ''} (1h00" in row  # the console's 14
        assert f"run time {worded}" in shown  # opscenter show
        assert f"● RUNNING {worded} · attempt 1 of 1" in head  # the console's instance
        events = [e for e in w.events() if e.kind == "SLOW"]
        assert [e.message for e in events] == (
            [f"A #{a.id} has run {took}, usually 1h00m"] if slow else []
        )


# -- (d) both backends refuse the same action on the same status with the same words -----------

REFUSALS = """
    nodes:
      - {name: ok, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
      - {name: once, type: shell, code: "echo fine", rerun_mode: FailureAllowed,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: never, type: shell, code: "exit 1", rerun_mode: Denied,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: kept, type: virtual, depends: [ok], rerun_mode: Denied,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
"""


@pytest.fixture
def refusing(world: MakeWorld) -> World:
    """At 02:00: ok, once and kept succeeded, never failed, later waits for its time."""
    w = world(REFUSALS).start()
    w.go(at(2))
    assert [w.status(n) for n in ("ok", "once", "never", "kept", "later")] == [
        Status.SUCCESS,
        Status.SUCCESS,
        Status.FAILURE,
        Status.SUCCESS,
        Status.WAIT_TIME,
    ]
    return w


@pytest.fixture(**API_VERSIONS)
def remote(
    request: pytest.FixtureRequest, refusing: World, tmp_path: Path
) -> Iterator[DataWorksBackend]:
    """The DataWorks backend over real HTTP to the emulator serving the same world."""
    with over_dataworks(refusing, request.param, tmp_path) as backend:
        yield backend


CASES = [  # (action, node, its status, its node's rerun mode)
    ("rerun", "later", Status.WAIT_TIME, "Allowed"),
    ("rerun", "once", Status.SUCCESS, "FailureAllowed"),
    ("rerun", "never", Status.FAILURE, "Denied"),
    ("set success", "later", Status.WAIT_TIME, "Allowed"),
    ("stop", "ok", Status.SUCCESS, "Allowed"),
    ("freeze", "never", Status.FAILURE, "Denied"),
    ("unfreeze", "ok", Status.SUCCESS, "Allowed"),
]


def _refused(call) -> str:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(ActionRefused) as refused:
        call()
    return refused.value.reason


def test_both_backends_refuse_with_the_domains_words(
    remote: DataWorksBackend, refusing: World
) -> None:
    local = refusing.backend
    for action, node, status, mode in CASES:
        item = refusing.instance(node)
        assert item.status is status
        words = refusal(action, status, mode)
        assert words is not None
        expected = f"#{item.id} {node}: {words}"
        act = action.replace(" ", "_")
        assert _refused(lambda a=act, i=item.id: getattr(local, a)([i])) == expected
        # DataWorks answers per id (spec 3.4): the emulator's words, as the domain has them
        theirs = _refused(lambda a=act, i=item.id: getattr(remote, a)([i]))
        assert expected in theirs, (action, node, theirs)
        assert refusing.status(node) is status
    once = refusing.instance("once").id
    for downstream in (False, True):  # a preview is checked on this side, word for word
        assert _refused(lambda d=downstream: local.preview_rerun([once], downstream=d)) == (
            _refused(lambda d=downstream: remote.preview_rerun([once], downstream=d))
        )


def test_a_rerun_downstream_is_refused_before_any_wave_is_sent(
    remote: DataWorksBackend, refusing: World
) -> None:
    """A descendant whose node denies reruns refuses the whole rerun over both backends,
    before anything is reset (DataWorks once reran the first wave, then failed)."""
    local, ok, kept = refusing.backend, refusing.instance("ok"), refusing.instance("kept")
    expected = f"#{kept.id} kept: {descendant_refusal(Status.SUCCESS, 'Denied')}"
    assert _refused(lambda: local.rerun([ok.id], downstream=True)) == expected
    assert _refused(lambda: remote.rerun([ok.id], downstream=True)) == expected
    assert _refused(lambda: remote.preview_rerun([ok.id], downstream=True)) == expected
    assert refusing.status("ok") is Status.SUCCESS and refusing.status("kept") is Status.SUCCESS
