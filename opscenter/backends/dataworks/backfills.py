"""Backfills over DataWorks, as the local engine plans and judges them: DataWorks has no dry
run, so a preview is planned here (domain.backfill_plan) from the tasks' crons and their
same-cycle downstream, and a backfill date's status is judged here from its instances.
Each API version creates and reads backfills its own way (api2024.py, api2020.py)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Api
from opscenter.backends.dataworks.tasks import TaskMap
from opscenter.domain import backfill_plan
from opscenter.domain.backfill_plan import PlanNode
from opscenter.domain.model import Status
from opscenter.domain.records import (
    ActionResult,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    InstanceInfo,
)


def preview(api: Api, zone: ZoneInfo, request: BackfillRequest) -> ActionResult:
    """The tasks' crons from the task list, the same-cycle downstream from the task graph."""
    by_name = {t["Name"]: t for t in api.tasks.all(refresh=True).values()}
    parents: dict[str, set[str]] = {name: set() for name in by_name}
    if request.node in by_name and (request.downstream or request.include):
        walk_down(api, by_name[request.node], parents)
    nodes = {
        name: PlanNode(
            name,
            (task.get("Trigger") or {}).get("Cron", ""),
            tuple(sorted(parents[name])),
            (task.get("Trigger") or {}).get("Recurrence") == "Pause",
        )
        for name, task in by_name.items()
    }
    planned = backfill_plan.plan(nodes, zone, request)
    return ActionResult(
        "backfill preview",
        [],
        planned.describe(),
        extra={"instances": planned.instances, "dates": len(planned.dates)},
    )


def walk_down(api: Api, root: dict[str, Any], parents: dict[str, set[str]]) -> None:
    """Same-cycle edges below ``root`` into ``parents`` (child name -> parent names), one
    downstream read per task reached."""
    frontier, seen = [root], {int(root["Id"])}
    while frontier:
        task = frontier.pop()
        for cross, child in api.downstream_tasks(task):
            if cross:
                continue
            parents.setdefault(child["Name"], set()).add(task["Name"])
            if int(child["Id"]) not in seen:
                seen.add(int(child["Id"]))
                frontier.append(child)


def run_status(items: list[InstanceInfo], tasks: TaskMap) -> str:
    """As the local engine judges a backfill date: all succeeded, a failure with no
    auto rerun left, or still running."""
    if all(i.status is Status.SUCCESS for i in items):
        return "SUCCESS"
    failed = [
        i
        for i in items
        if i.status is Status.FAILURE and not records.retry_due(i, tasks.get(i.node_id))
    ]
    return "FAILURE" if failed else "RUNNING"


def listed(api: Api, audited: list[AuditEntry], limit: int) -> list[BackfillInfo]:
    """Newest first: the ones this console created and any others DataWorks lists."""
    return [api.backfill(i) for i in sorted(api.backfill_ids(audited), reverse=True)[:limit]]
