"""A workspace on the new Data Studio through API 2024-05-18: tasks and task instances,
batch actions, UpdateTask, undeploy pipelines and workflow-instance backfills."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from opscenter.backends.dataworks import pipelines, records
from opscenter.backends.dataworks.api import InstanceQuery, ManualWorkflow, Site
from opscenter.backends.dataworks.backfills import run_status
from opscenter.backends.dataworks.calls import missing_as
from opscenter.backends.dataworks.tasks import TaskMap
from opscenter.backends.dataworks.vocabulary import (
    BACKFILL_STATUSES,
    KINDS,
    MANUAL_TRIGGER,
    MANUAL_WORKFLOW,
    PERIODIC_WORKFLOW_ID,
    PROD_2024,
    STATUSES,
)
from opscenter.domain.model import InstanceKind
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    BackfillRunInfo,
    InstanceInfo,
    NotFound,
    not_found,
    noun,
)

MAX_PAGE = 500  # ListTaskInstances' largest page (spec 2.7)
POLL_SECONDS = 0.5
POLL_LIMIT = 120
BACKFILL_SCAN_DAYS = 14  # business dates read back when listing backfills
# what a created backfill's audit detail says before its ids, which the backfill list reads
# back: "... as workflow instance #7", "... as workflow instances #7, #8", or in audit
# files written before counts agreed with their nouns, "... as workflow instance(s) #7"
CREATED_AS = " created in DataWorks as workflow instance"
ACTIONS = {
    "rerun": "RerunTaskInstances",
    "set success": "SetSuccessTaskInstances",
    "stop": "StopTaskInstances",
    "freeze": "SuspendTaskInstances",
    "unfreeze": "ResumeTaskInstances",
}


def audited_backfills(entries: list[AuditEntry]) -> list[int]:
    """Ids named by this console's successful backfills: "... as workflow instances
    #7, #8" or "... as workflow instance #7", and "... as workflow instance(s) #7"
    as audit files written before the count agreed with its noun still say."""
    found = [
        re.findall(r"#(\d+)", e.detail.rpartition(CREATED_AS)[2])
        for e in entries
        if e.action == "backfill" and e.outcome == "ok" and CREATED_AS in e.detail
    ]
    return [int(i) for ids in found for i in ids]


def _outcomes(answer: dict[str, Any], ids: Sequence[int]) -> dict[int, str | None]:
    """A batch answer's ``SuccessInfo``: id -> None when done, else DataWorks' message."""
    info = answer["SuccessInfo"] or {}  # none: malformed
    return {
        i: None
        if (info.get(str(i)) or {}).get("Success")
        else (info.get(str(i)) or {}).get("Message") or "no result for this id"
        for i in ids
    }


class Api2024:
    """The 2024-05-18 operations of one workspace."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.calls = site.calls
        self.tasks = TaskMap(self._read_tasks)

    def _read_tasks(self) -> dict[int, dict[str, Any]]:
        params = {"ProjectId": self.site.project_id, "ProjectEnv": PROD_2024}
        return {int(t["Id"]): t for t in self.calls.pages("ListTasks", "Tasks", params)}

    def project_name(self) -> str:
        answer = self.calls.client.call("GetProject", {"Id": self.site.project_id}, method="GET")
        return (answer.get("Project") or {}).get("Name", "")

    # -- tasks ----------------------------------------------------------------------------

    def task_detail(self, task_id: int) -> dict[str, Any]:
        return self.calls.get("GetTask", {"Id": task_id, "ProjectEnv": PROD_2024})["Task"]

    def downstream_tasks(self, task: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
        rows = self.calls.pages("ListDownstreamTasks", "DownstreamTasks", {"Id": task["Id"]}, "GET")
        return [(r.get("DependencyType") == "CrossCycle", r["Task"]) for r in rows]

    # -- instances ------------------------------------------------------------------------

    def _instance(self, row: dict[str, Any]) -> InstanceInfo:
        return records.instance(row, self.tasks.get(int(row["TaskId"])), self.site.zone)

    def instances(self, query: InstanceQuery) -> Iterator[tuple[InstanceInfo, int]]:
        """ListTaskInstances sorted by TriggerTime (then Id), every page."""
        params: dict[str, Any] = {
            "ProjectId": self.site.project_id,
            "ProjectEnv": PROD_2024,
            "Bizdate": records.bizdate_ms(query.bizdate, self.site.zone) if query.bizdate else None,
            "Owner": query.owner,
            "TaskName": query.task_name,
            "WorkflowInstanceType": KINDS.words[query.kind] if query.kind else None,
            "WorkflowInstanceId": query.backfill_id,
            "SortBy": "TriggerTime Desc" if query.descending else "TriggerTime Asc",
        }
        if query.status is not None:
            params["Status"] = STATUSES.words[query.status]
        if query.frozen_only:
            params["TriggerRecurrence"] = "Pause"
        return self._rows(params)

    def _rows(self, params: dict[str, Any]) -> Iterator[tuple[InstanceInfo, int]]:
        """Every row in the server's order, with the server's TotalCount."""
        number = 1
        while True:
            page = self.calls.call(
                "ListTaskInstances", {**params, "PageNumber": number, "PageSize": MAX_PAGE}
            )["PagingInfo"]
            rows = page.get("TaskInstances") or []
            total = int(page.get("TotalCount") or 0)
            for row in rows:
                yield self._instance(row), total
            if not rows or number * MAX_PAGE >= total:
                return
            number += 1

    def _task_instance(self, instance_id: int) -> dict[str, Any]:
        with missing_as(not_found("instance", [instance_id], self.site.name)):
            return self.calls.get("GetTaskInstance", {"Id": instance_id})["TaskInstance"]

    def instance(self, instance_id: int) -> InstanceInfo:
        return self._instance(self._task_instance(instance_id))

    def parameters(self, instance_id: int) -> dict[str, str]:
        detail = self._task_instance(instance_id)
        return records.parameters((detail.get("Script") or {}).get("Parameters", ""))

    def log_text(self, instance_id: int, attempt: int | None) -> str:
        """GetTaskInstanceLog; with no run number, the latest run's (or for one that
        succeeded with no run, why nothing ran)."""
        params: dict[str, Any] = {"Id": instance_id}
        if attempt is not None:
            params["RunNumber"] = attempt
        return self.calls.get("GetTaskInstanceLog", params).get("TaskInstanceLog") or ""

    def neighbours(self, instance_id: int, direction: str) -> list[tuple[bool, InstanceInfo]]:
        action, key = (
            ("ListDownstreamTaskInstances", "DownstreamTaskInstances")
            if direction == "down"
            else ("ListUpstreamTaskInstances", "UpstreamTaskInstances")
        )
        rows = self.calls.pages(action, key, {"Id": instance_id}, "GET")
        return [
            (r.get("DependencyType") == "CrossCycle", self._instance(r["TaskInstance"]))
            for r in rows
        ]

    # -- acting ---------------------------------------------------------------------------

    def check_exist(self, ids: Sequence[int]) -> None:
        """One ListTaskInstances by ids."""
        self.existing(ids)

    def existing(self, ids: Sequence[int]) -> dict[int, InstanceInfo]:
        """One ListTaskInstances by ids."""
        params = {"ProjectId": self.site.project_id, "ProjectEnv": PROD_2024, "Ids": list(ids)}
        found = {info.id: info for info, _ in self._rows(params)}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise not_found("instance", missing, self.site.name)
        return found

    def send(self, verb: str, ids: Sequence[int]) -> dict[int, str | None]:
        """One batch call."""
        params = {"Ids": list(ids), "Comment": f"{verb} by {self.site.user}"}
        return _outcomes(self.calls.call(ACTIONS[verb], params), ids)

    def set_recurrence(self, task_id: int, recurrence: str) -> None:
        """UpdateTask with the full trigger read from GetTask (spec 3.1: merge is unverified)."""
        task = self.task_detail(task_id)
        trigger = {**(task.get("Trigger") or {}), "Recurrence": recurrence}
        self.calls.call("UpdateTask", {"Id": task_id, "EnvType": PROD_2024, "Trigger": trigger})

    def undeploy(self, node: str, task_id: int) -> ActionResult:
        return pipelines.undeploy(self.site, node, task_id)

    # -- backfills ------------------------------------------------------------------------

    def create_backfill(self, request: BackfillRequest) -> ActionResult:
        """CreateWorkflowInstances (SupplementData), then poll its operation (spec 3.5)."""
        ids = {t["Name"]: int(t["Id"]) for t in self.tasks.all(refresh=True).values()}
        missing = [n for n in (request.node, *request.include, *request.exclude) if n not in ids]
        if missing:
            raise NotFound(f"no deployed node {missing[0]!r} in workspace {self.site.name}")
        periods: dict[str, Any] = {
            "BizDates": [
                {"StartBizDate": request.start.isoformat(), "EndBizDate": request.end.isoformat()}
            ]
        }
        if request.window:
            periods |= {
                "StartTime": f"{request.window[0]}:00",
                "EndTime": f"{request.window[1]}:00",
            }
        properties = {
            "Mode": "AllDownstream" if request.downstream else "General",
            "RootTaskIds": [ids[request.node]],
            "IncludeTaskIds": [ids[n] for n in request.include],
            "ExcludeTaskIds": [ids[n] for n in request.exclude],
            "Parallelism": request.parallel,
            "Order": "Desc" if request.descending else "Asc",
            "Analysis": {"Enabled": False, "Blocked": False},
        }
        name = request.name or f"backfill {request.node} {request.start}..{request.end}"
        operation = self.calls.call(
            "CreateWorkflowInstances",
            {
                "Name": name,
                "ProjectId": self.site.project_id,
                "EnvType": PROD_2024,
                "Type": KINDS.words[InstanceKind.BACKFILL],
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "Periods": periods,
                "DefaultRunProperties": properties,
            },
        )["OperationId"]
        result = self._poll_creation(operation, "backfill")
        created = [int(i) for i in result.get("WorkflowInstanceIds") or []]
        return ActionResult(
            "backfill",
            created,
            f"backfill {name!r} created in DataWorks as {noun(len(created), 'workflow instance')} "
            f"{', '.join(f'#{i}' for i in created)}",
            extra={"backfill_id": created[0] if created else None},
        )

    def _poll_creation(self, operation: str, what: str) -> dict[str, Any]:
        for _ in range(POLL_LIMIT):
            result = self.calls.get("GetCreateWorkflowInstancesResult", {"OperationId": operation})[
                "Result"
            ]
            if result.get("Status") == "Created":
                return result
            if result.get("Status") == "CreateFailure":
                raise ActionRefused(
                    f"DataWorks could not create the {what}: {result.get('FailureMessage', '')}"
                )
            time.sleep(POLL_SECONDS)
        waited = timedelta(seconds=POLL_LIMIT * POLL_SECONDS)
        raise ActionRefused(
            f"DataWorks is still creating {what} operation {operation} after {waited}"
        )

    # -- emergency operations and runs on demand --------------------------------------------

    def remove_dependencies(
        self, instance_id: int, upstream_ids: Sequence[int], comment: str, *, preview: bool
    ) -> None:
        """RemoveTaskInstanceDependencies; its ``Success`` false is a refusal."""
        if preview:
            return
        params = {"Id": instance_id, "UpstreamTaskInstanceIds": list(upstream_ids)}
        answer = self.calls.call("RemoveTaskInstanceDependencies", params | {"Comment": comment})
        if not answer.get("Success"):
            raise ActionRefused("DataWorks RemoveTaskInstanceDependencies answered no success")

    def update_instances(
        self,
        ids: Sequence[int],
        priority: int | None,
        resource_group: str | None,
        comment: str,
        *,
        preview: bool,
    ) -> dict[int, str | None]:
        """UpdateTaskInstances, one batch call with each id's outcome in ``SuccessInfo``."""
        if preview:
            return dict.fromkeys(ids)
        change: dict[str, Any] = {}
        if priority is not None:
            change["Priority"] = priority
        if resource_group:
            change["RuntimeResource"] = resource_group
        params = {"TaskInstances": [{"Id": i, **change} for i in ids], "Comment": comment}
        return _outcomes(self.calls.call("UpdateTaskInstances", params), ids)

    def test_run(self, task_id: int, bizdate: date, comment: str) -> list[int]:
        """CreateWorkflowInstances (SmokeTest) of the periodic workflow, polled, then its
        task instance listed."""
        return self._run(
            "test run",
            InstanceKind.TEST,
            bizdate,
            {
                "Name": f"test run {self.tasks.get(task_id).get('Name', task_id)} {bizdate}",
                "Type": KINDS.words[InstanceKind.TEST],
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "DefaultRunProperties": {"RootTaskIds": [task_id]},
                "Comment": comment,
            },
        )

    def manual_workflow(self, name: str) -> ManualWorkflow:
        """ListWorkflows (TriggerType Manual; its Name is fuzzy), then GetWorkflow's tasks."""
        params = {
            "ProjectId": self.site.project_id,
            "EnvType": PROD_2024,
            "TriggerType": MANUAL_TRIGGER,
            "Name": name,
        }
        found = [
            w for w in self.calls.pages("ListWorkflows", "Workflows", params) if w["Name"] == name
        ]
        if not found:
            raise not_found("manual workflow", [name], self.site.name)
        workflow_id = int(found[0]["Id"])
        detail = self.calls.get("GetWorkflow", {"Id": workflow_id, "EnvType": PROD_2024})[
            "Workflow"
        ]
        tasks = {t["Name"]: int(t["Id"]) for t in detail.get("Tasks") or []}
        return ManualWorkflow(workflow_id, name, tasks)

    def run_manual(
        self, workflow: ManualWorkflow, bizdate: date, task_ids: Sequence[int], comment: str
    ) -> list[int]:
        """CreateWorkflowInstances: ManualWorkflow for the whole workflow, Manual for the
        chosen tasks of it; polled, then its task instances listed."""
        params: dict[str, Any] = {
            "Name": f"manual run {workflow.name} {bizdate}",
            "WorkflowId": workflow.id,
            "Comment": comment,
        }
        if task_ids:
            params |= {
                "Type": KINDS.words[InstanceKind.MANUAL],
                "DefaultRunProperties": {"IncludeTaskIds": list(task_ids)},
            }
        else:
            params["Type"] = MANUAL_WORKFLOW
        return self._run("manual run", InstanceKind.MANUAL, bizdate, params)

    def _run(
        self, what: str, kind: InstanceKind, bizdate: date, params: dict[str, Any]
    ) -> list[int]:
        """One business date's workflow run created and polled: its task instances' ids."""
        day = bizdate.isoformat()
        operation = self.calls.call(
            "CreateWorkflowInstances",
            {
                "ProjectId": self.site.project_id,
                "EnvType": PROD_2024,
                "Periods": {"BizDates": [{"StartBizDate": day, "EndBizDate": day}]},
                **params,
            },
        )["OperationId"]
        result = self._poll_creation(operation, what)
        return [
            item.id
            for run in result.get("WorkflowInstanceIds") or []
            for item, _ in self.instances(
                InstanceQuery(bizdate=bizdate, kind=kind, backfill_id=int(run))
            )
        ]

    def backfill_ids(self, audited: list[AuditEntry]) -> set[int]:
        """ListWorkflowInstances needs a BizDate, so the SupplementData runs of the last
        BACKFILL_SCAN_DAYS business dates are read, with the audited ones whatever their
        dates."""
        today = self.site.clock.now().astimezone(self.site.zone).date()
        ids = set(audited_backfills(audited))
        for back in range(1, BACKFILL_SCAN_DAYS + 1):
            rows = self.calls.pages(
                "ListWorkflowInstances",
                "WorkflowInstances",
                {
                    "ProjectId": self.site.project_id,
                    "BizDate": records.bizdate_ms(today - timedelta(days=back), self.site.zone),
                    "Type": KINDS.words[InstanceKind.BACKFILL],
                    "EnvType": PROD_2024,
                },
            )
            ids.update(int(r["Id"]) for r in rows)
        return ids

    def backfill(self, backfill_id: int) -> BackfillInfo:
        """GetWorkflowInstance, and its task instances grouped by business date.

        The API tells neither the parallelism, the order nor the time window (they read
        1, ascending and none), and a date whose instances are not generated yet has no
        run to show.
        """
        with missing_as(not_found("backfill", [backfill_id], self.site.name)):
            row = self.calls.get("GetWorkflowInstance", {"Id": backfill_id})["WorkflowInstance"]
        query = InstanceQuery(backfill_id=backfill_id, kind=InstanceKind.BACKFILL)
        by_date: dict[date, list[InstanceInfo]] = {}
        for item, _ in self.instances(query):
            by_date.setdefault(item.bizdate, []).append(item)
        runs = [
            BackfillRunInfo(
                day, position, run_status(items, self.tasks), records.counts(day, items).counts
            )
            for position, (day, items) in enumerate(sorted(by_date.items()))
        ]
        nodes = sorted({i.node for items in by_date.values() for i in items})
        status = str(row.get("Status", ""))
        return BackfillInfo(
            id=int(row["Id"]),
            name=row.get("Name", ""),
            created_by=row.get("Owner", ""),
            created_at=records.moment(row.get("CreateTime") or row.get("StartedTime"))
            or datetime.min,
            nodes=tuple(nodes),
            parallel=1,
            descending=False,
            window=None,
            status=BACKFILL_STATUSES.value(status, status.upper()),
            runs=runs,
        )
