"""Every time the CLI prints says its zone: the workspace's (``CST``, ``PDT``) or, with
``--utc``, ``UTC``; every datetime in ``--json`` is an instant with its offset.

The store keeps moments as naive UTC and cyctimes as wall-clock time in the workspace zone.
Shown side by side unlabelled, an attempt that started at 01:00 in Shanghai read as 17:00 the
day before, hours ahead of its 00:30 cyctime. These worlds (a real store, engine and CLI on a
ManualClock) live in Asia/Shanghai, and in America/Los_Angeles across the autumn change.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine as Database

from opscenter.cli import main
from opscenter.domain import records
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.times import show_moment, show_wall, wall_instant, zone_label
from opscenter.verbs import output
from tests.conftest import deploy_folder, write_workspace
from tests.harness import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

# Saturday 2030-01-05 in Shanghai: deployed at 00:00 CST, the clock at 01:00 CST (17:00 UTC
# the day before); the 00:30 instances are due and run at 01:00.
SH_DEPLOYED = datetime(2030, 1, 4, 16, 0)  # naive UTC
SH_START = datetime(2030, 1, 5, 1, 0, tzinfo=SHANGHAI)
SH_WORKSPACE = """
    workspace: {name: ws, timezone: Asia/Shanghai}
    nodes:
      - {name: extract, type: shell, owner: bob, code: "echo rows",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: broken, type: shell, owner: bob, code: "echo boom; exit 1", depends: [extract],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, owner: bob, depends: [broken],
         trigger: {cron: "00 30 00 * * ?"}}
    baselines:
      - {name: morning, owner: bob, priority: 5, committed_time: "06:00", margin: 30,
         nodes: [report]}
    alerts:
      - {name: broken_failed, trigger: Error, nodes: [broken]}
"""

# Los Angeles falls back on Sunday 2030-11-03 at 02:00 PDT: 01:30 happens twice that night.
LA_DEPLOYED = datetime(2030, 11, 1, 7, 0)  # naive UTC: 00:00 PDT on Friday 11-01
LA_START = datetime(2030, 11, 1, 1, 0, tzinfo=LOS_ANGELES)
LA_WORKSPACE = """
    workspace: {name: ws, timezone: America/Los_Angeles}
    nodes:
      - {name: nightly, type: shell, owner: bob, code: "true", trigger: {cron: "00 30 01 * * ?"}}
"""

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Operator:
    """``opscenter ARGS --workspace <folder> --db <store>`` on the world's clock."""

    def __init__(self, w: World, folder: Path, store: Database, capsys: Any) -> None:
        self.w = w
        self.where = ["--workspace", str(folder), "--db", str(store.url)]
        self.capsys = capsys

    def __call__(self, *argv: str) -> str:
        self.capsys.readouterr()
        code = main([*argv, *self.where], clock=self.w.clock)
        out, err = self.capsys.readouterr()
        assert code == 0, err
        assert err == ""
        return out

    def json(self, *argv: str) -> Any:
        return json.loads(self(*argv, "--json"))


def make_world(
    tmp_path: Path, store: Database, yaml_text: str, deployed: datetime, start: datetime
) -> tuple[World, Path]:
    folder = write_workspace(tmp_path / "ws", textwrap.dedent(yaml_text))
    report = deploy_folder(store, folder, now=deployed)
    w = World(store, report.workspace_id, ManualClock(start.astimezone(UTC)))
    return w.start(), folder


@pytest.fixture
def shanghai(tmp_path: Path, store: Database, capsys: Any) -> Any:
    w, folder = make_world(tmp_path, store, SH_WORKSPACE, SH_DEPLOYED, SH_START)
    try:
        assert w.status("extract", SH_START.date()) is Status.SUCCESS
        assert w.status("broken", SH_START.date()) is Status.FAILURE
        yield Operator(w, folder, store, capsys)
    finally:
        w.close()


@pytest.fixture
def los_angeles(tmp_path: Path, store: Database, capsys: Any) -> Any:
    w, folder = make_world(tmp_path, store, LA_WORKSPACE, LA_DEPLOYED, LA_START)
    try:
        yield Operator(w, folder, store, capsys)
    finally:
        w.close()


def datetimes_in(tree: Any, path: str = "$") -> list[tuple[str, str]]:
    """(where, text) of every datetime-looking string anywhere in a JSON tree."""
    if isinstance(tree, dict):
        return [found for k, v in tree.items() for found in datetimes_in(v, f"{path}.{k}")]
    if isinstance(tree, list):
        return [found for i, v in enumerate(tree) for found in datetimes_in(v, f"{path}[{i}]")]
    if isinstance(tree, str) and ISO_DATETIME.match(tree):
        return [(path, tree)]
    return []


def assert_every_datetime_is_an_instant(tree: Any, offset: str | None = None) -> int:
    """Every datetime string parses as an aware datetime (with ``offset``, if given);
    returns how many there were."""
    found = datetimes_in(tree)
    for where, text in found:
        moment = datetime.fromisoformat(text)
        assert moment.tzinfo is not None, f"{where}: {text} has no offset"
        if offset is not None:
            assert text.endswith(offset), f"{where}: {text} is not at {offset}"
    return len(found)


def parse_shown(text: str, zone: ZoneInfo) -> datetime:
    """``2030-01-05 00:30 CST`` (or with seconds) read back as an instant in ``zone``."""
    stamp, label = text.rsplit(" ", 1)
    moment = datetime.fromisoformat(stamp).replace(tzinfo=zone)
    assert zone_label(moment) == label
    return moment


# ---------------------------------------------------------------------------
# show: the cyctime and the attempt start, both labelled, in order
# ---------------------------------------------------------------------------


def test_show_labels_the_cyctime_and_the_attempt_start_in_the_workspace_zone(shanghai) -> None:
    extract = shanghai.w.instance("extract", SH_START.date())
    lines = shanghai("show", str(extract.id)).splitlines()
    assert " · cyctime 2030-01-05 00:30 CST · bizdate 20300104" in lines[0]
    [attempt] = [line for line in lines if line.startswith("  attempt 1:")]
    assert "started 2030-01-05 01:00:00 CST by scheduler" in attempt

    cyctime = parse_shown(re.search(r"cyctime (\S+ \S+ \S+)", lines[0])[1], SHANGHAI)
    started = parse_shown(re.search(r"started (\S+ \S+ \S+)", attempt)[1], SHANGHAI)
    assert cyctime <= started < cyctime + timedelta(hours=1)  # not hours before its time
    assert started == SH_START


def test_utc_shows_the_same_instants_labelled_utc(shanghai) -> None:
    extract = shanghai.w.instance("extract", SH_START.date())
    out = shanghai("show", str(extract.id), "--utc")
    assert "cyctime 2030-01-04 16:30 UTC" in out
    assert "started 2030-01-04 17:00:00 UTC by scheduler" in out
    assert "CST" not in out

    assert "CYCTIME (UTC)" in shanghai("instances", "--utc")
    audit = shanghai("audit", "--utc").splitlines()
    assert all(line.split()[2] == "UTC" for line in audit)
    assert shanghai("alerts", "--utc").split()[1:4] == ["01-04", "17:00", "UTC"]


def test_show_json_carries_instants_with_offsets_and_plain_business_dates(shanghai) -> None:
    extract = shanghai.w.instance("extract", SH_START.date())
    [stored] = shanghai.w.backend.attempts(extract.id)  # naive UTC, as the store keeps it

    shown = shanghai.json("show", str(extract.id))
    assert assert_every_datetime_is_an_instant(shown, "+08:00") >= 3
    assert shown["instance"]["bizdate"] == "2030-01-04"
    assert shown["instance"]["cyctime"] == "2030-01-05T00:30:00+08:00"
    started = datetime.fromisoformat(shown["attempts"][0]["started_at"])
    assert started == stored.started_at.replace(tzinfo=UTC)  # the same instant
    assert shown["attempts"][0]["started_at"] == "2030-01-05T01:00:00+08:00"

    in_utc = shanghai.json("show", str(extract.id), "--utc")
    assert_every_datetime_is_an_instant(in_utc, "+00:00")
    assert in_utc["instance"]["cyctime"] == "2030-01-04T16:30:00+00:00"
    assert datetime.fromisoformat(in_utc["attempts"][0]["started_at"]) == started
    assert in_utc["instance"]["bizdate"] == "2030-01-04"  # a business date stays a date


def test_every_verb_s_json_has_only_aware_datetimes_and_plain_dates(shanghai) -> None:
    w = shanghai.w
    broken = w.instance("broken", SH_START.date())
    shanghai("rerun", str(broken.id))  # an audit entry by the operator
    shanghai("backfill", "extract", "--from", "2029-12-01", "--to", "2029-12-02")
    w.idle()

    outputs = {
        "show": shanghai.json("show", str(broken.id)),
        "instances": shanghai.json("instances"),
        "instances --all-dates": shanghai.json("instances", "--all-dates"),
        "audit": shanghai.json("audit"),
        "events": shanghai.json("events"),
        "baselines": shanghai.json("baselines"),
        "baseline": shanghai.json("baseline", "morning"),
        "backfills": shanghai.json("backfills"),
        "nodes": shanghai.json("nodes"),
        "node": shanghai.json("node", "extract"),
        "alerts": shanghai.json("alerts"),
        "why": shanghai.json("why", str(broken.id)),
        "status": shanghai.json("status"),
        "rerun --preview": shanghai.json("rerun", str(broken.id), "--preview"),
        "backfill --preview": shanghai.json(
            "backfill", "extract", "--from", "2029-11-01", "--to", "2029-11-02", "--preview"
        ),
    }
    for verb, tree in outputs.items():
        for where, text in datetimes_in(tree):
            moment = datetime.fromisoformat(text)
            assert moment.tzinfo is not None, f"{verb} {where}: {text} has no offset"
            assert moment.utcoffset() == timedelta(hours=8), f"{verb} {where}: {text}"

    # what there is to see was there: times in each list that has them
    for verb in ("show", "instances", "audit", "events", "baselines", "backfills", "status"):
        assert datetimes_in(outputs[verb]), f"{verb} printed no times"
    for entry in outputs["audit"]:  # the real time of the act, where the backend keeps it
        assert entry.get("wall_at") is None or datetime.fromisoformat(entry["wall_at"]).tzinfo
    # business dates are plain dates
    assert {i["bizdate"] for i in outputs["instances"]["items"]} == {"2030-01-04"}
    assert [r["bizdate"] for r in outputs["backfills"][0]["runs"]] == ["2029-12-01", "2029-12-02"]
    assert outputs["baselines"][0]["bizdate"] == "2030-01-04"
    assert outputs["events"][0]["bizdate"] == "2030-01-04"
    assert all(ISO_DATE.match(i["bizdate"]) for i in outputs["instances --all-dates"]["items"])
    # the baseline's committed 06:00 is Shanghai's 06:00
    assert outputs["baseline"]["status"]["committed_at"] == "2030-01-05T06:00:00+08:00"


# ---------------------------------------------------------------------------
# text: each list says its zone once per line or in its header
# ---------------------------------------------------------------------------


def test_text_lists_label_their_times(shanghai) -> None:
    w = shanghai.w
    listed = shanghai("instances").splitlines()
    assert "CYCTIME (CST)" in listed[0]
    assert all(len(line) <= 80 for line in listed)
    extract = next(line for line in listed if " extract " in line)
    assert "01-05 00:30" in extract and "CST" not in extract  # the header says it
    assert listed[0].index("CYCTIME") == extract.index("01-05 00:30")  # one column

    audit = shanghai("audit").splitlines()
    assert audit[0].split()[:4] == ["2030-01-05", "00:00:00", "CST", "tester"]  # the deploy

    baselines = shanghai("baselines").splitlines()
    assert baselines[0] == "Baselines · bizdate 2030-01-04 · times in CST"
    assert "commit 06:00" in baselines[1] and "alert 05:30" in baselines[1]
    detail = shanghai("baseline", "morning", "--keypath")
    assert "committed 06:00 · alert 05:30 · protects 4 instances · times in CST" in detail
    assert "Key path (predicted; each bar spans start to finish; times in CST)" in detail
    assert "times in UTC" in shanghai("baseline", "morning", "--utc")
    assert "committed 22:00" in shanghai("baseline", "morning", "--utc")

    alert = shanghai("alerts").split()
    assert alert[1:4] == ["01-05", "01:00", "CST"]

    nexts = next(line for line in shanghai("node", "extract").splitlines() if "next:" in line)
    assert nexts == "next: " + ", ".join(f"01-{d:02d} 00:30 CST" for d in range(6, 11))
    assert "version 1 of 2030-01-05 00:00 CST" in shanghai("node", "extract")

    shanghai("backfill", "extract", "--from", "2029-12-01", "--to", "2029-12-01")
    assert shanghai("backfills").splitlines()[0].endswith(" on 2030-01-05 01:00 CST")

    broken = w.instance("broken", SH_START.date())
    impact = shanghai("rerun", str(broken.id), "--preview")
    assert re.search(r"Baseline morning: .* · times in CST", impact)
    report = w.instance("report", SH_START.date())
    assert "wall-clock time in Asia/Shanghai" in shanghai("why", str(report.id))

    status = shanghai("status")
    assert " · now 2030-01-05 01:00 CST (Asia/Shanghai)" in status.splitlines()[0]
    assert "Baselines · committed times in CST" in status and "committed 06:00" in status
    assert "Due next · cyctimes in CST" in status and "01-05 00:30" in status
    in_utc = shanghai("status", "--utc")
    assert " · now 2030-01-04 17:00 UTC" in in_utc and "committed 22:00" in in_utc
    assert "Due next · cyctimes in UTC" in in_utc and "01-04 16:30" in in_utc


# ---------------------------------------------------------------------------
# daylight saving: the offset of each day, and the first of a repeated hour
# ---------------------------------------------------------------------------


def test_cyctimes_across_the_autumn_change_carry_each_day_s_offset(los_angeles) -> None:
    w = los_angeles.w
    created = los_angeles.json("backfill", "nightly", "--from", "2030-11-01", "--to", "2030-11-03")
    backfill = str(created["extra"]["backfill_id"])
    # the instance of 11-03 01:30 (the first of the two) is due at 08:30 UTC
    w.go(datetime(2030, 11, 3, 8, 30, tzinfo=UTC))

    listed = los_angeles.json("instances", "--backfill", backfill, "--all-dates")
    assert [i["cyctime"] for i in listed["items"]] == [
        "2030-11-02T01:30:00-07:00",
        "2030-11-03T01:30:00-07:00",  # 01:30 PDT: the first 01:30, as the scheduler fires it
        "2030-11-04T01:30:00-08:00",
    ]
    assert [i["bizdate"] for i in listed["items"]] == ["2030-11-01", "2030-11-02", "2030-11-03"]
    in_utc = los_angeles.json("instances", "--backfill", backfill, "--all-dates", "--utc")
    assert [i["cyctime"] for i in in_utc["items"]] == [
        "2030-11-02T08:30:00+00:00",
        "2030-11-03T08:30:00+00:00",
        "2030-11-04T09:30:00+00:00",
    ]
    text = los_angeles("instances", "--backfill", backfill, "--all-dates").splitlines()
    assert "CYCTIME (PDT/PST)" in text[0] and all(len(line) <= 80 for line in text)
    # the label widens the cyctime column into the node's: the columns stay aligned
    assert text[1].index("11-02 01:30") == text[0].index("CYCTIME")
    assert text[1].index("0s") == text[0].index("TOOK")

    # it ran at its cyctime, and says so in the same zone
    fold = listed["items"][1]
    assert fold["status"] == "SUCCESS"
    out = los_angeles("show", str(fold["id"]))
    assert "cyctime 2030-11-03 01:30 PDT" in out
    assert "started 2030-11-03 01:30:00 PDT" in out
    shown = los_angeles.json("show", str(fold["id"]))
    assert shown["attempts"][0]["started_at"] == "2030-11-03T01:30:00-07:00"

    nexts = next(line for line in los_angeles("node", "nightly").splitlines() if "next:" in line)
    assert nexts.startswith("next: 11-04 01:30 PST, 11-05 01:30 PST")


def test_next_fire_times_say_which_side_of_the_change_they_fall(los_angeles) -> None:
    nexts = next(line for line in los_angeles("node", "nightly").splitlines() if "next:" in line)
    assert nexts == (
        "next: 11-01 01:30 PDT, 11-02 01:30 PDT, 11-03 01:30 PDT, 11-04 01:30 PST, 11-05 01:30 PST"
    )
    [node] = [n for n in los_angeles.json("nodes") if n["name"] == "nightly"]
    assert node["deployed_at"] == "2030-11-01T00:00:00-07:00"
    times = los_angeles.json("node", "nightly")["next_fire_times"]
    assert [t[-6:] for t in times] == ["-07:00", "-07:00", "-07:00", "-08:00", "-08:00"]


# ---------------------------------------------------------------------------
# the conversion, in one place
# ---------------------------------------------------------------------------


def test_a_stored_moment_and_a_cyctime_render_with_their_zone_label() -> None:
    moment = datetime(2030, 1, 5, 0, 15)  # naive UTC
    assert show_moment(moment, SHANGHAI) == "2030-01-05 08:15 CST"
    assert show_moment(moment, UTC) == "2030-01-05 00:15 UTC"
    assert show_moment(moment, ZoneInfo("Asia/Dubai")) == "2030-01-05 04:15 +04"  # no letters
    assert show_moment(None, SHANGHAI) == "-"
    cyctime = datetime(2030, 1, 5, 0, 30)  # wall clock in the workspace zone
    assert show_wall(cyctime, SHANGHAI) == "2030-01-05 00:30 CST"
    assert show_wall(cyctime, SHANGHAI, shown=UTC) == "2030-01-04 16:30 UTC"
    # the repeated hour: fold 0, the first 01:30, as the scheduler takes it
    assert wall_instant(datetime(2030, 11, 3, 1, 30), LOS_ANGELES).utcoffset() == timedelta(
        hours=-7
    )
    assert show_wall(datetime(2030, 11, 4, 1, 30), LOS_ANGELES) == "2030-11-04 01:30 PST"


def test_every_datetime_field_of_a_record_has_its_convention_in_the_table() -> None:
    """A new datetime field in records.py must say (in output.TIME_FIELDS) how it is kept."""
    aware = {"stopped_at", "now"}  # aware already: they carry their zone
    for record in vars(records).values():
        if not (isinstance(record, type) and is_dataclass(record)):
            continue
        hints = get_type_hints(record, vars(records))
        for f in fields(record):
            if holds_datetime(hints[f.name]) and f.name not in aware:
                assert f.name in output.TIME_FIELDS, f"{record.__name__}.{f.name}"


def holds_datetime(hint: Any) -> bool:
    """datetime, or a type made of it (datetime | None, tuple[datetime, int] ...)."""
    return hint is datetime or any(holds_datetime(arg) for arg in get_args(hint))


def test_a_business_date_is_a_plain_date_in_json() -> None:
    assert output.to_json({"bizdate": date(2030, 1, 4)}) == {"bizdate": "2030-01-04"}
