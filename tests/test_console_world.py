"""Which world the console opens: the demo's simulated day, deploys on that clock, resuming."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.cli import _parser
from opscenter.console import DEMO_SPEED, demo_start, open_world
from opscenter.domain.clock import ManualClock
from opscenter.domain.records import InstanceFilter
from opscenter.errors import UsageError
from opscenter.options import Options, gather
from opscenter.scheduler import worldclock
from opscenter.scheduler.generate import generate_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
REAL_NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def options_of(*argv: str) -> Options:
    """The Options ``opscenter ARGV`` opens its console with (the config file read too)."""
    return gather(_parser().parse_args(list(argv)), os.environ)


def test_the_demo_starts_at_midnight_or_where_it_got_to():
    midnight = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert demo_start(None, REAL_NOW, SHANGHAI) == midnight
    later = datetime(2026, 11, 22, 5, 30)  # naive UTC, a previous demo's last change
    assert demo_start(later, REAL_NOW, SHANGHAI) == later.replace(tzinfo=UTC)
    earlier = datetime(2026, 11, 20, 5, 30)
    assert demo_start(earlier, REAL_NOW, SHANGHAI) == midnight


def test_a_demo_started_in_the_past_deploys_then_and_generates_its_next_day(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    opened = open_world(options_of("--start", "2026-11-20 22:50"), ManualClock(REAL_NOW))
    assert opened.plan is not None
    clock = opened.plan.clock(worldclock.read(opened.db))
    assert clock.speed == DEMO_SPEED
    sim = datetime(2026, 11, 20, 14, 50, tzinfo=UTC)
    assert clock.now() == sim
    backend = LocalBackend(opened.db, "shop", clock, user="t")
    deployed = backend.get_node("sales_daily").deployed_at
    assert abs((deployed - sim.replace(tzinfo=None)).total_seconds()) < 60  # not real time
    nightly = datetime(2026, 11, 20, 15, 30)  # 23:30 in Shanghai
    generated = generate_day(opened.db, opened.workspace_id, date(2026, 11, 21), now=nightly)
    assert generated.instances == 46
    assert backend.list_instances(InstanceFilter(bizdate=date(2026, 11, 20))).total == 46


def test_the_demo_resumes_its_simulated_day(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    first = open_world(options_of("--start", "2026-11-22 08:00"), ManualClock(REAL_NOW))
    generate_day(
        first.db, first.workspace_id, date(2026, 11, 22), now=datetime(2026, 11, 22), bootstrap=True
    )
    assert first.plan is not None
    moment = first.plan.clock(None).now() + timedelta(hours=3)
    backend = LocalBackend(first.db, "shop", ManualClock(moment), user="t")
    some = backend.list_instances(InstanceFilter(bizdate=date(2026, 11, 21), limit=1)).items
    backend.freeze([some[0].id])  # the last thing that happened in that demo
    again = open_world(options_of(), ManualClock(REAL_NOW))
    assert again.plan is not None  # a store from before the world's clock was published
    assert abs((again.plan.clock(None).now() - moment).total_seconds()) < 60


def test_attaching_to_a_store_without_the_workspace_says_how_to_deploy(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    args = options_of("--workspace", "nowhere", "--db", url, "--no-scheduler")
    with pytest.raises(UsageError, match="opscenter deploy"):
        open_world(args, ManualClock(REAL_NOW))


def test_the_dataworks_backend_needs_a_workspace_id_and_a_region(tmp_path, monkeypatch):
    from opscenter.console import open_dataworks

    args = options_of("--backend", "dataworks", "--region", "cn-shanghai")
    with pytest.raises(UsageError, match="--workspace-id"):
        open_dataworks(args, ManualClock(REAL_NOW))
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aliyun/config.json either
    args = options_of("--backend", "dataworks", "--region", "cn-shanghai", "--workspace-id", "42")
    with pytest.raises(UsageError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        open_dataworks(args, ManualClock(REAL_NOW))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-shown")
    args = options_of(
        "--backend", "dataworks", "--endpoint", "http://127.0.0.1:9", "--workspace-id", "42"
    )
    with pytest.raises(UsageError) as unreachable:  # found out before the console opens
        open_dataworks(args, ManualClock(REAL_NOW))
    message = str(unreachable.value)
    assert message.startswith("cannot open DataWorks workspace 42: DataWorks GetProject failed")
    assert "cannot reach http://127.0.0.1:9" in message and "not-shown" not in message
