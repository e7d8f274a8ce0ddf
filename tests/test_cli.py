"""The opscenter command as a user runs it: a real subprocess for the default, main() for verbs."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

import pytest

from opscenter.cli import main
from opscenter.domain.clock import ManualClock
from tests import processes
from tests.conftest import write_workspace

# 2026-11-22 08:00 in Shanghai (a Sunday)
CLOCK_START = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def run_opscenter(*args: str, state: str) -> subprocess.CompletedProcess[str]:
    return processes.run_opscenter(*args, env={**os.environ, "XDG_STATE_HOME": state})


def test_no_arguments_deploys_the_demo_and_summarises_today(tmp_path):
    result = run_opscenter(state=str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "workspace shop" in out
    assert "33 added" in out
    assert "generated 46 instances" in out
    assert "○ NOT_RUN" in out and "✓ SUCCESS" in out  # glyph and word
    # the status report, over the local backend: the world, its clock, nodes and what is due
    assert "shop · local · now " in out and "(Asia/Shanghai)" in out
    assert "Scheduler: not running" in out and "Clock: real time" in out
    assert "Nodes · 33 deployed (4 python, 2 quality, 4 shell, 18 sql, 5 virtual)" in out
    assert "Due next · cyctimes in CST" in out and "○ NOT_RUN       shop_root" in out
    # no scheduler has predicted the day yet: the baselines are still listed, as promises
    assert "Baselines not predicted yet for bizdate " in out
    assert "exec_dashboard     priority 8  committed 09:00  margin 30m  · not predicted" in out
    assert (tmp_path / "opscenter" / "shop" / "state.db").exists()


def test_unpredicted_baselines_read_in_the_zone_the_report_is_in(tmp_path):
    """With --utc every committed time of the report is in UTC, a promise not yet predicted
    as much as a predicted one: exec_dashboard's 09:00 CST is 01:00 UTC."""
    assert run_opscenter(state=str(tmp_path)).returncode == 0
    text = run_opscenter("status", "--utc", state=str(tmp_path))
    assert text.returncode == 0, text.stderr
    assert "· committed times in UTC" in text.stdout
    assert "exec_dashboard     priority 8  committed 01:00  margin 30m  · not predicted" in (
        text.stdout
    )
    data = run_opscenter("status", "--utc", "--json", state=str(tmp_path))
    [dashboard] = [b for b in json.loads(data.stdout)["baselines"] if b["name"] == "exec_dashboard"]
    assert (dashboard["committed"], dashboard["status"]) == ("01:00", None)


def test_running_it_again_redeploys_nothing_and_generates_nothing(tmp_path):
    run_opscenter(state=str(tmp_path))
    again = run_opscenter(state=str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 changed, 0 removed, 33 unchanged" in again.stdout
    assert "today's instances (" in again.stdout and "were already generated" in again.stdout
    assert "generated 0 instances" not in again.stdout and "generated 46" not in again.stdout


def test_status_counts_instances_of_a_business_date_as_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    clock = ManualClock(CLOCK_START)
    assert main([], clock=clock) == 0
    capsys.readouterr()
    assert main(["status", "--bizdate", "2026-11-21", "--json"], clock=clock) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bizdate"] == "2026-11-21"
    assert report["counts"]["TOTAL"] == 46
    assert report["counts"]["NOT_RUN"] == 46
    assert report["dry_run"] == 4  # Sunday: both weekly and both monthly nodes dry-run


def test_status_of_a_workspace_never_deployed_says_how_to_deploy(tmp_path, capsys):
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: fresh}
        nodes: [{name: a, type: virtual, trigger: {cron: "00 00 01 * * ?"}}]
        """,
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["status", "--workspace", str(folder), "--db", url]) == 2
    assert "opscenter deploy" in capsys.readouterr().err


def test_deploy_reports_changes_as_json(tmp_path, capsys):
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: ws}
        nodes: [{name: a, type: virtual, trigger: {cron: "00 00 01 * * ?"}}]
        """,
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["deploy", str(folder), "--db", url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["added"]) == ["a", "ws_root"]


def test_bad_arguments_exit_non_zero_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--bizdate", "yesterday"])
    assert exit_.value.code == 2
    assert "is not a date" in capsys.readouterr().err
