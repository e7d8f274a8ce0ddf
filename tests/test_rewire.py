"""A store wired by an older version gets today's dependency rules on its next start (issue 14).

The old rules let one ancestor instance have only one descendant instance: with A at
02,08,14,20 and B every hour, B03…B07 had no upstream at all. A store generated then is
reproduced here by removing exactly those edges; the next scheduler start gives the
instances that have not started A02 back (spec 4.3, D10) and leaves a started one alone.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from sqlalchemy import delete, select, update

from opscenter.domain.clock import ManualClock
from opscenter.scheduler.daemon import run_scheduler
from opscenter.scheduler.generate import generate_day
from opscenter.scheduler.rewire import rewire_not_started
from opscenter.scheduler.worldclock import ClockPlan
from opscenter.store.models import InstanceEdgeRow, InstanceRow, Meta, NodeRow
from tests.conftest import deploy_folder, write_workspace
from tests.test_generation import instances, upstream_names

DAY = date(2025, 11, 3)
NOW = datetime(2025, 11, 2, 12, 0)  # naive UTC, before the day runs

D10 = """
workspace: {name: ws, timezone: Asia/Shanghai}
nodes:
  - name: a
    type: virtual
    trigger: {cron: "00 00 02-23/6 * * ?"}
  - name: b
    type: virtual
    trigger: {cron: "00 00 00-23/1 * * ?"}
    depends: [a]
"""


def old_store(tmp_path, store) -> int:
    """Today's wiring minus the edges the old rules never made; returns the workspace id."""
    report = deploy_folder(store, write_workspace(tmp_path / "ws", D10))
    generate_day(store, report.workspace_id, DAY, now=NOW)
    b = {row.cyctime.hour: row.id for row in instances(store, "b")}
    orphans = [b[h] for h in range(3, 8)]  # B03…B07: A02 was "taken" by B02
    with store.begin() as conn:
        a_ids = select(InstanceRow.id).join(NodeRow).where(NodeRow.name == "a")
        conn.execute(
            delete(InstanceEdgeRow).where(
                InstanceEdgeRow.downstream_id.in_(orphans),
                InstanceEdgeRow.upstream_id.in_(a_ids),
            )
        )
        conn.execute(  # B03 already ran under the old wiring
            update(InstanceRow).where(InstanceRow.id == b[3]).values(status="SUCCESS", run_number=1)
        )
        conn.execute(delete(Meta).where(Meta.key.like("edge_rules:%")))
    return report.workspace_id


def a_upstreams(store, hour: int) -> set[int]:
    [row] = [r for r in instances(store, "b") if r.cyctime == datetime(2025, 11, 3, hour)]
    return {cyctime.hour for name, cyctime, _ in upstream_names(store, row.id) if name == "a"}


def test_instances_not_started_get_the_current_rules_and_started_ones_keep_their_history(
    tmp_path, store
):
    workspace_id = old_store(tmp_path, store)
    assert a_upstreams(store, 5) == set()  # what the old version left

    rewired = rewire_not_started(store, workspace_id)

    assert rewired is not None and rewired.changed == 4  # B04…B07
    assert rewired.examined == 24 + 4 + 1 - 1  # b's 24, a's 4 and the root's, less B03
    assert {h: a_upstreams(store, h) for h in range(2, 9)} == {
        2: {2},
        3: set(),  # it ran: its history stays as it happened
        4: {2},
        5: {2},
        6: {2},
        7: {2},
        8: {8},
    }
    assert rewire_not_started(store, workspace_id) is None  # once per rules version


def test_the_scheduler_says_how_many_instances_it_rewired_on_its_first_start(tmp_path, store):
    workspace_id = old_store(tmp_path, store)
    said: list[str] = []
    stop = threading.Event()

    def say(text: str) -> None:
        said.append(text)
        if text.startswith("dependency rules"):
            stop.set()

    plan = ClockPlan(wall=ManualClock(datetime(2025, 11, 2, 12, 0, tzinfo=UTC)))
    run_scheduler(store, workspace_id, plan, stop, say=say)

    assert (
        "dependency rules of this version (spec 4.3) applied to the 28 instances not yet "
        "started: 4 got different upstream instances"
    ) in said
    assert a_upstreams(store, 6) == {2}
