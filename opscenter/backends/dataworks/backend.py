"""The Backend protocol over the DataWorks OpenAPI (2024-05-18, baselines from 2020-05-18).

The console sees the same records as over the local backend: wire fields are mapped
back here (spec 3.3, 3.10 and the emulator's mapping notes): ``NotRun`` + ``Pause`` is
FROZEN, ``Success`` + ``Skip`` is a dry run, moments are epoch milliseconds turned into
naive UTC, and cyctimes and business dates are read in the workspace's zone. DataWorks
keeps no audit of our actions for 2020 workspaces and only 31 days for 2024 ones, so
every action (and refusal) is also written to a local JSON-lines audit file.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks.client import (
    NOT_FOUND,
    ApiError,
    DataWorksClient,
    DataWorksError,
    NoAnswer,
)
from opscenter.backends.dataworks.logcache import LogCache
from opscenter.domain import backfill_plan, diagnosis
from opscenter.domain.backfill_plan import PlanNode
from opscenter.domain.clock import Clock
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.preconditions import (
    KEPT_BELOW,
    ActionTarget,
    check_action,
    check_below,
    read_only_refusal,
)
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    AlertInfo,
    AttemptInfo,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    BackfillRunInfo,
    BaselineDetail,
    BaselineImpact,
    BaselineStatus,
    Blocker,
    Dashboard,
    Diagnosis,
    EventInfo,
    InstanceFilter,
    InstanceInfo,
    KeyPathStep,
    LogPage,
    NodeErrors,
    NodeFilter,
    NodeInfo,
    NotFound,
    Page,
    Relative,
    StatusCounts,
    WorkspaceInfo,
    counted,
    no_attempt,
    no_baseline,
    not_found,
    noun,
)
from opscenter.domain.runlog import final_words
from opscenter.store.db import state_home
from opscenter.store.files import make_private_dirs, open_for_append

V2020 = "2020-05-18"
MAX_PAGE = 500  # ListTaskInstances' largest page (spec 2.7)
PERIODIC_WORKFLOW_ID = 1
LOCAL_TYPES = {
    "ODPS_SQL": "sql",
    "DIDE_SHELL": "shell",
    "PYTHON": "python",
    "VIRTUAL": "virtual",
    "DATA_QUALITY": "quality",
}
STATUSES = {
    "NotRun": Status.NOT_RUN,
    "WaitTime": Status.WAIT_TIME,
    "WaitResource": Status.WAIT_RESOURCE,
    "Running": Status.RUNNING,
    "Failure": Status.FAILURE,
    "Success": Status.SUCCESS,
}
WIRE_STATUS = {status: word for word, status in STATUSES.items()} | {Status.FROZEN: "NotRun"}
KINDS = {
    "Normal": InstanceKind.PERIODIC,
    "SupplementData": InstanceKind.BACKFILL,
    "Manual": InstanceKind.MANUAL,
}
WIRE_KIND = {kind: word for word, kind in KINDS.items()}
RERUN_MODES = {"AllAllowed": "Allowed", "FailureAllowed": "FailureAllowed", "AllDenied": "Denied"}
BASELINE_STATUS = {"DANGEROUS": "WARNING", "DANGROUS": "WARNING"}
POLL_SECONDS = 0.5
BACKFILL_SCAN_DAYS = 14  # business dates read back when listing backfills
# what a created backfill's audit detail says before its ids, which list_backfills reads
# back: "... as workflow instance #7", "... as workflow instances #7, #8", or in audit
# files written before counts agreed with their nouns, "... as workflow instance(s) #7"
CREATED_AS = " created in DataWorks as workflow instance"
POLL_LIMIT = 120
READ_PREFIXES = ("List", "Get", "TopTen")  # calls that change nothing
PIPELINE_ENDED = ("Fail", "Termination", "Cancel")
EVENT_SCAN_DAYS = 31  # how far back ListTopics / ListAlertMessages are read
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def _moment(millis: Any) -> datetime | None:
    """Epoch milliseconds as the records keep moments: naive UTC."""
    if millis in (None, ""):
        return None
    return datetime.fromtimestamp(int(millis) / 1000, UTC).replace(tzinfo=None)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _parameters(text: str) -> dict[str, str]:
    """``ScriptParameters``: space-separated ``name=value`` pairs."""
    return dict(pair.split("=", 1) for pair in text.split() if "=" in pair)


def _run_status(step: dict[str, Any]) -> str:
    """A key path step's status: its latest run's (GetBaselineKeyPath ``Runs``)."""
    runs = step.get("Runs") or []
    return str(runs[-1].get("Status", "")) if runs else ""


def _id(item: InstanceInfo) -> int:
    return item.id


def _last_error(log: str) -> str:
    """Why the run failed, by the same rule as a local run's (``runlog.final_words``)."""
    return final_words(log) or "no log"


class _Answer(dict):
    """A DataWorks answer whose missing field is a refusal naming the call and its request
    id, so an answer of an unexpected shape never escapes as a bare KeyError."""

    def __init__(self, data: dict[str, Any], action: str, request_id: str) -> None:
        super().__init__({k: _answer(v, action, request_id) for k, v in data.items()})
        self.action = action
        self.request_id = request_id

    def __missing__(self, key: str) -> Any:
        raise ActionRefused(
            f"DataWorks {self.action} failed: the answer has no {key!r} field "
            f"(request id {self.request_id or 'none'})"
        )


def _answer(value: Any, action: str, request_id: str) -> Any:
    if isinstance(value, dict):
        return _Answer(value, action, request_id)
    if isinstance(value, list):
        return [_answer(item, action, request_id) for item in value]
    return value


class OutcomeUnknown(ActionRefused):
    """A change was sent and no answer came: audited as unknown, not as refused."""


def _page(instance_id: int, attempt: int, data: bytes, offset: int, limit: int) -> LogPage:
    """A page of a whole log's UTF-8 bytes, never ending inside a character."""
    decoded = data[offset : offset + limit].decode(errors="ignore")
    next_offset = offset + len(decoded.encode())
    return LogPage(instance_id, attempt, decoded, offset, next_offset, len(data))


def unavailable(feature: str, needs: str) -> ActionRefused:
    return ActionRefused(
        f"{feature} is not available over the DataWorks backend yet: needs {needs}"
    )


class DataWorksBackend:
    """One DataWorks workspace (``project_id``) behind the Backend protocol.

    The OpenAPI carries no time zone, so the workspace's zone is given (DataWorks
    regions in China run on UTC+8, the default).
    """

    def __init__(
        self,
        client: DataWorksClient,
        project_id: int,
        *,
        clock: Clock,
        user: str,
        readonly: bool = False,
        audit_path: Path | None = None,
        timezone: str = "Asia/Shanghai",
        name: str = "",
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.clock = clock
        self.user = user
        self.readonly = readonly
        self.audit_path = audit_path or state_home() / f"dataworks-{project_id}" / "audit.jsonl"
        self.zone = ZoneInfo(timezone)
        self._timezone = timezone
        self._name = name or f"dataworks-{project_id}"
        self._tasks: dict[int, dict[str, Any]] = {}
        self._missing: set[int] = set()  # task ids the last full read did not have
        self._ended_logs = LogCache()

    # -- wire helpers ---------------------------------------------------------------------

    def _call(self, action: str, params: dict[str, Any], **options: Any) -> dict[str, Any]:
        """A refusal by DataWorks (any error answer) becomes ActionRefused for the console."""
        try:
            answer = self.client.call(action, params, **options)
        except NoAnswer as error:
            if action.startswith(READ_PREFIXES):
                raise ActionRefused(f"DataWorks {action} failed: {error}") from None
            raise OutcomeUnknown(
                f"DataWorks {action} failed: {error}; it may have been done all the same, "
                "so check the targets before repeating it"
            ) from None
        except DataWorksError as error:
            if isinstance(error, ApiError) and error.code == NOT_FOUND:
                raise NotFound(f"DataWorks {action} failed: {error}") from None
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return _answer(answer, action, str(answer.get("RequestId") or ""))

    @contextmanager
    def _missing_as(self, missing: NotFound) -> Iterator[None]:
        """An answer that the id is not there, in the words the local backend uses too."""
        try:
            yield
        except NotFound:
            raise missing from None

    def _get(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._call(action, params, method="GET")

    def _legacy(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._call(action, params, version=V2020)

    def _wall(self, millis: Any) -> datetime:
        """Epoch milliseconds as a naive wall time of the workspace (a cyctime)."""
        return datetime.fromtimestamp(int(millis) / 1000, self.zone).replace(tzinfo=None)

    def _bizdate_ms(self, day: date) -> int:
        midnight = datetime.combine(day, datetime.min.time(), self.zone)
        return int(midnight.timestamp() * 1000)

    # -- mapping --------------------------------------------------------------------------

    def _task_map(self, refresh: bool = False) -> dict[int, dict[str, Any]]:
        """Deployed tasks by id; kept because instances name only their task's id."""
        if refresh or not self._tasks:
            items = self._pages(
                "ListTasks", "Tasks", {"ProjectId": self.project_id, "ProjectEnv": "Prod"}
            )
            self._tasks = {int(t["Id"]): t for t in items}
            self._missing.clear()
        return self._tasks

    def _task(self, task_id: int) -> dict[str, Any]:
        """A task by id, the list re-read at most once per unknown id (an undeployed task's
        instances must not cost a full task list each)."""
        tasks = self._task_map()
        if task_id not in tasks and task_id not in self._missing:
            tasks = self._task_map(refresh=True)
            if task_id not in tasks:
                self._missing.add(task_id)
        return tasks.get(task_id, {})

    def _instance(self, row: dict[str, Any]) -> InstanceInfo:
        recurrence = row.get("TriggerRecurrence", "Normal")
        status = STATUSES[row["Status"]]
        if status is Status.NOT_RUN and recurrence == "Pause":
            status = Status.FROZEN
        kind = KINDS.get(row.get("WorkflowInstanceType", "Normal"), InstanceKind.PERIODIC)
        task = self._task(int(row["TaskId"]))
        return InstanceInfo(
            id=int(row["Id"]),
            node_id=int(row["TaskId"]),
            node=row["TaskName"],
            node_type=LOCAL_TYPES.get(row.get("TaskType", ""), row.get("TaskType", "").lower()),
            kind=kind,
            backfill_id=row.get("WorkflowInstanceId") if kind is InstanceKind.BACKFILL else None,
            bizdate=self._wall(row["Bizdate"]).date(),
            cyctime=self._wall(row["TriggerTime"]),
            cycle=int(row.get("PeriodNumber") or 1),
            status=status,
            dry_run=recurrence == "Skip",
            dry_run_reason="",
            run_number=int(row.get("RunNumber") or 0),
            max_attempts=int(task.get("RerunTimes") or 0) + 1,
            priority=int(row.get("Priority") or 1),
            resource_group=(row.get("RuntimeResource") or {}).get("ResourceGroupId", ""),
            owner=row.get("Owner", ""),
            set_success=False,
            started_at=_moment(row.get("StartedTime")),
            finished_at=_moment(row.get("FinishedTime")),
            retry_at=None,
        )

    def _node(self, task: dict[str, Any], names: dict[int, str] | None = None) -> NodeInfo:
        """A task summary (or GetTask's detail, with dependencies named via ``names``)."""
        trigger = task.get("Trigger") or {}
        cron = trigger.get("Cron", "")
        schedule = parse_cron(cron)
        names = names or {}
        depends = task.get("Dependencies") or []
        upstreams = [
            names.get(int(d["UpstreamTaskId"]), str(d["UpstreamTaskId"]))
            for d in depends
            if d.get("Type") == "Normal"
        ]
        cross = [
            (d["Type"], names.get(int(d["UpstreamTaskId"]), "") if d.get("UpstreamTaskId") else "")
            for d in depends
            if d.get("Type") != "Normal"
        ]
        variables = (task.get("Inputs") or {}).get("Variables")
        parameters = (
            {v["Name"]: str(v.get("Value", "")) for v in variables}
            if variables is not None
            else _parameters(task.get("ScriptParameters", ""))
        )
        timeout = int(task.get("Timeout") or 0)
        return NodeInfo(
            id=int(task["Id"]),
            name=task["Name"],
            type=LOCAL_TYPES.get(task.get("Type", ""), task.get("Type", "").lower()),
            owner=task.get("Owner", ""),
            description=task.get("Description", ""),
            priority=int(task.get("Priority") or 1),
            resource_group=(task.get("RuntimeResource") or {}).get("ResourceGroupId", ""),
            cron=cron,
            cycle_type=schedule.cycle_type.value,
            schedule=schedule.describe(),
            start_date=_day(trigger.get("StartTime")),
            end_date=_day(trigger.get("EndTime")),
            recurrence=trigger.get("Recurrence", "Normal"),
            instance_mode=task.get("InstanceMode", ""),
            rerun_mode=RERUN_MODES.get(task.get("RerunMode", ""), task.get("RerunMode", "")),
            rerun_times=int(task.get("RerunTimes") or 0),
            rerun_interval=int(task.get("RerunInterval") or 0) // 1000,
            timeout=timeout // 60 if timeout else None,
            parameters=parameters,
            upstreams=tuple(upstreams),
            downstreams=(),
            cross_cycle=tuple(cross),
            code=(task.get("Script") or {}).get("Content", ""),
            code_file="",
            frozen=trigger.get("Recurrence") == "Pause",
            state="deployed",
            version=0,
            deployed_at=_moment(task.get("ModifyTime")) or datetime.min,
        )

    # -- reading --------------------------------------------------------------------------

    def connect(self) -> None:
        """Name the workspace as DataWorks does (GetProject), and find out early when the
        endpoint, the credentials or the id are wrong. A RAM user without permission to
        read the project keeps the id-based name."""
        try:
            self._name = self._project_name() or self._name
        except DataWorksError as error:
            if not (isinstance(error, ApiError) and error.code.startswith("Forbidden")):
                raise ActionRefused(f"DataWorks GetProject failed: {error}") from None

    def _project_name(self) -> str:
        answer = self.client.call("GetProject", {"Id": self.project_id}, method="GET")
        return (answer.get("Project") or {}).get("Name", "")

    def workspace(self) -> WorkspaceInfo:
        return WorkspaceInfo(self._name, self._timezone, "dataworks", self.readonly, "")

    def now(self) -> datetime:
        return self.clock.now()

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        """Task summaries: dependencies and code come with get_node (one call per task)."""
        flt = flt or NodeFilter()
        nodes = [self._node(t) for t in self._task_map(refresh=True).values()]
        return sorted(
            (
                n
                for n in nodes
                if (not flt.text or flt.text.lower() in n.name.lower())
                and (not flt.owner or n.owner == flt.owner)
                and (not flt.type or n.type == flt.type)
                and (not flt.cycle_type or n.cycle_type == flt.cycle_type)
                and (flt.priority is None or n.priority == flt.priority)
                and (not flt.resource_group or n.resource_group == flt.resource_group)
                and (not flt.recurrence or n.recurrence == flt.recurrence)
            ),
            key=lambda n: n.name,
        )

    def get_node(self, name: str) -> NodeInfo:
        tasks = self._task_map(refresh=True)
        found = [t for t in tasks.values() if t["Name"] == name]
        if not found:
            raise not_found("node", [name], self._name)
        task_id = int(found[0]["Id"])
        detail = self._get("GetTask", {"Id": task_id, "ProjectEnv": "Prod"})["Task"]
        names = {i: t["Name"] for i, t in tasks.items()}
        node = self._node(detail, names)
        downstreams = sorted(child["Name"] for _, child in self._downstream_tasks(found[0]))
        return NodeInfo(**{**node.__dict__, "downstreams": tuple(downstreams)})

    def _pages(
        self, action: str, key: str, params: dict[str, Any], method: str = "POST"
    ) -> list[Any]:
        try:
            items = list(self.client.iter_items(action, key, params, method=method))
        except DataWorksError as error:
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return _answer(items, action, "")

    def list_instances(self, flt: InstanceFilter) -> Page:
        """ListTaskInstances sorted by TriggerTime (then Id), as our (cyctime, id) keyset.

        The API pages by number, so the ``after`` key is found by reading pages of 500
        from the first; filters the API cannot express (several statuses, NotRun without
        Pause, an exact node name) are applied here, and then every page is read to count.
        """
        params, keep, exact = self._instance_query(flt)
        rows: list[InstanceInfo] = []
        total = matched = 0
        for info, count in self._instance_rows(params):
            total = count
            if not keep(info):
                continue
            matched += 1
            if flt.after and not self._past(info, flt):
                continue
            if len(rows) <= flt.limit:
                rows.append(info)
            if exact and len(rows) > flt.limit:
                break
        items = rows[: flt.limit]
        more = len(rows) > flt.limit
        next_after = (items[-1].cyctime, items[-1].id) if more and items else None
        return Page(items, total if exact else matched, next_after)

    @staticmethod
    def _past(item: InstanceInfo, flt: InstanceFilter) -> bool:
        key = (item.cyctime, item.id)
        return key < flt.after if flt.descending else key > flt.after  # type: ignore[operator]

    def _instance_query(
        self, flt: InstanceFilter
    ) -> tuple[dict[str, Any], Callable[[InstanceInfo], bool], bool]:
        """(request parameters, the row check done here, whether TotalCount is exact)."""
        if flt.bizdate is None and flt.backfill_id is None:
            raise ActionRefused(
                "listing instances over DataWorks needs a business date or a backfill: "
                "ListTaskInstances requires Bizdate"
            )
        params: dict[str, Any] = {
            "ProjectId": self.project_id,
            "ProjectEnv": "Prod",
            "Bizdate": self._bizdate_ms(flt.bizdate) if flt.bizdate else None,
            "Owner": flt.owner or None,
            "TaskName": flt.node or flt.text or None,
            "WorkflowInstanceType": WIRE_KIND[flt.kind] if flt.kind else None,
            "WorkflowInstanceId": flt.backfill_id,
            "SortBy": "TriggerTime Desc" if flt.descending else "TriggerTime Asc",
        }
        statuses = set(flt.statuses)
        if len(statuses) == 1 or statuses == {Status.NOT_RUN, Status.FROZEN}:
            params["Status"] = WIRE_STATUS[next(iter(statuses))]
            if statuses == {Status.FROZEN}:
                params["TriggerRecurrence"] = "Pause"
        exact = not flt.node and (
            not statuses
            or statuses in ({Status.FROZEN}, {Status.NOT_RUN, Status.FROZEN})
            or (len(statuses) == 1 and Status.NOT_RUN not in statuses)
        )

        def keep(item: InstanceInfo) -> bool:
            return (
                (not statuses or item.status in statuses)
                and (not flt.node or item.node == flt.node)
                and (not flt.text or flt.text.lower() in item.node.lower())
            )

        return params, keep, exact

    def _instance_rows(self, params: dict[str, Any]) -> Iterator[tuple[InstanceInfo, int]]:
        """Every row in the server's order, with the server's TotalCount."""
        number = 1
        while True:
            page = self._call(
                "ListTaskInstances", {**params, "PageNumber": number, "PageSize": MAX_PAGE}
            )["PagingInfo"]
            rows = page.get("TaskInstances") or []
            total = int(page.get("TotalCount") or 0)
            for row in rows:
                yield self._instance(row), total
            if not rows or number * MAX_PAGE >= total:
                return
            number += 1

    def get_instance(self, instance_id: int) -> InstanceInfo:
        return self._instance(self._task_instance(instance_id))

    def parameters(self, instance_id: int) -> dict[str, str]:
        detail = self._task_instance(instance_id)
        return _parameters((detail.get("Script") or {}).get("Parameters", ""))

    def _task_instance(self, instance_id: int) -> dict[str, Any]:
        with self._missing_as(not_found("instance", [instance_id], self._name)):
            return self._get("GetTaskInstance", {"Id": instance_id})["TaskInstance"]

    def attempts(self, instance_id: int) -> list[AttemptInfo]:
        """2020 ListInstanceHistory: one row per run (the 2024 API has no history list)."""
        return [
            AttemptInfo(
                instance_id=instance_id,
                number=number,
                status=Status(r["Status"]),
                triggered_by="",
                started_at=_moment(r.get("BeginRunningTime")) or datetime.min,
                finished_at=_moment(r.get("FinishTime")),
                exit_code=None,
                reason=r.get("ErrorMessage", ""),
                log_path="",
                pid=None,
            )
            for number, r in enumerate(self._history(instance_id), 1)
        ]

    def _history(self, instance_id: int) -> list[dict[str, Any]]:
        """The instance's runs (ListInstanceHistory rows), in the order they began."""
        rows = self._legacy(
            "ListInstanceHistory", {"InstanceId": instance_id, "ProjectEnv": "PROD"}
        )
        return sorted(
            rows.get("Instances") or [],
            key=lambda r: (int(r.get("BeginRunningTime") or 0), int(r["InstanceHistoryId"])),
        )

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage:
        """GetTaskInstanceLog returns a run's whole text, so offsets are over its UTF-8 bytes.
        A run that has ended never changes: its text is kept, and paging through it again
        (the console names the attempt) costs no call at all. An instance that succeeded
        with no run (a dry run, a virtual node) has the log DataWorks gives it, unnamed
        (attempt 0, as over the local store)."""
        kept = self._ended_logs.get((instance_id, attempt)) if attempt else None
        if kept is not None:
            return _page(instance_id, attempt, kept, offset, limit)  # type: ignore[arg-type]
        return self._log_page(instance_id, attempt, offset, limit)[0]

    def _log_page(
        self, instance_id: int, attempt: int | None, offset: int, limit: int
    ) -> tuple[LogPage, InstanceInfo]:
        """The page, and the instance as it was read with it."""
        info = self.get_instance(instance_id)
        if info.run_number < 1:
            if info.status is not Status.SUCCESS or attempt:
                raise ActionRefused(f"instance #{instance_id} has not run yet: no log")
            # succeeded with no run: not kept, as a rerun may settle it again at another time
            quiet = self._log_text(instance_id, None).encode()
            return _page(instance_id, 0, quiet, offset, limit), info
        number = attempt or info.run_number
        if not 1 <= number <= info.run_number:
            raise no_attempt(instance_id, number, info.run_number)
        data = self._ended_logs.get((instance_id, number))
        if data is None:
            data = self._log_text(instance_id, number).encode()
            # whole for good: a later run exists, or this one succeeded or failed
            ended = number < info.run_number or info.status in (Status.SUCCESS, Status.FAILURE)
            if ended and data:
                self._ended_logs.put((instance_id, number), data)
        return _page(instance_id, number, data, offset, limit), info

    def _log_text(self, instance_id: int, attempt: int | None) -> str:
        """One run's whole log; with no run number, the log DataWorks gives the instance
        (the latest run's, or for one that succeeded with no run, why nothing ran)."""
        params: dict[str, Any] = {"Id": instance_id}
        if attempt is not None:
            params["RunNumber"] = attempt
        return self._get("GetTaskInstanceLog", params).get("TaskInstanceLog") or ""

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]:
        """Pages as the log grows; ends once that run has ended and all is read. The run is
        fixed at the start, so a rerun meanwhile cannot splice another run's text onto it."""
        number, offset = attempt, 0
        while True:
            page, info = self._log_page(instance_id, number, offset, 65536)
            number = page.attempt  # the latest run when none was named, from the first page on
            if page.text:
                yield page
            offset = page.next_offset
            if page.at_end and (number < info.run_number or info.status is not Status.RUNNING):
                return
            time.sleep(poll)

    def _neighbours(self, instance_id: int, direction: str) -> list[tuple[bool, InstanceInfo]]:
        """(cross-cycle?, instance) one level up or down."""
        action, key = (
            ("ListDownstreamTaskInstances", "DownstreamTaskInstances")
            if direction == "down"
            else ("ListUpstreamTaskInstances", "UpstreamTaskInstances")
        )
        rows = self._pages(action, key, {"Id": instance_id}, "GET")
        return [
            (r.get("DependencyType") == "CrossCycle", self._instance(r["TaskInstance"]))
            for r in rows
        ]

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]:
        found: list[Relative] = []
        seen = {instance_id}
        frontier = [instance_id]
        for level in range(1, levels + 1):
            nxt: list[int] = []
            for via in frontier:
                for cross, item in self._neighbours(via, direction):
                    if item.id not in seen:
                        seen.add(item.id)
                        nxt.append(item.id)
                        found.append(Relative(level, item, via, cross))
            frontier = nxt
        return found

    def diagnose(self, instance_id: int) -> Diagnosis:
        """The domain's diagnosis over what the API tells. It does not tell who holds a
        resource group's slots, who froze an instance, whether an operator set a success,
        nor when an automatic rerun is due: those facts go as unknown, and domain says so."""
        item = self.get_instance(instance_id)
        task = self._task(item.node_id)
        due = item.cyctime.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
        return diagnosis.diagnose(
            diagnosis.DiagnosisFacts(
                instance_id=instance_id,
                node=item.node,
                status=item.status,
                cyctime=item.cyctime,
                due_at=due,
                now=self.clock.now().astimezone(UTC).replace(tzinfo=None),
                resource_group=item.resource_group,
                upstream=diagnosis.walk_upstream(instance_id, self._upstream_facts),
                dry_run=item.dry_run,
                dry_run_reason=item.dry_run_reason,
                set_success=diagnosis.UNKNOWN,
                node_frozen=(task.get("Trigger") or {}).get("Recurrence") == "Pause",
                frozen_by=diagnosis.UNKNOWN if item.status is Status.FROZEN else None,
                run_number=item.run_number,
                max_attempts=item.max_attempts,
                rerun_mode=RERUN_MODES.get(task.get("RerunMode", ""), ""),
                started_at=item.started_at,
                last_reason=self._last_reason(item),
                retry_at=diagnosis.UNKNOWN,
                zone=self.zone,
            )
        )

    def _upstream_facts(self, ids: Sequence[int]) -> dict[int, list[diagnosis.Upstream]]:
        """Each instance's upstream instances (ListUpstreamTaskInstances, one per id)."""
        return {
            i: [
                diagnosis.Upstream(up.id, up.node, up.status, up.cyctime, cross)
                for cross, up in self._neighbours(i, "up")
            ]
            for i in ids
        }

    def _last_reason(self, item: InstanceInfo) -> str | None:
        """Why a failed instance's last run ended: its history row's ErrorMessage (the
        attempt's reason, as the local store keeps it), else its log's last error line;
        None when it never ran."""
        if item.status is not Status.FAILURE:
            return None
        tried = self.attempts(item.id)
        reason = (tried[-1].reason or "") if tried else ""
        if not reason and item.run_number:
            reason = _last_error(self._log_text(item.id, item.run_number))
        return reason if tried or item.run_number else None

    def _periodic(self, bizdate: date) -> list[InstanceInfo]:
        """Every periodic instance of the business date (ListTaskInstances, all pages)."""
        params, _, _ = self._instance_query(
            InstanceFilter(bizdate=bizdate, kind=InstanceKind.PERIODIC)
        )
        return [item for item, _ in self._instance_rows(params)]

    def status_counts(self, bizdate: date) -> StatusCounts:
        """Periodic instances of the date counted here: GetInstanceStatusCount merges
        FROZEN into NotRun and has no dry-run count."""
        return self._counts(bizdate, self._periodic(bizdate))

    @staticmethod
    def _counts(bizdate: date, items: list[InstanceInfo]) -> StatusCounts:
        counts = dict.fromkeys(Status, 0)
        for item in items:
            counts[item.status] += 1
        return StatusCounts(bizdate, counts, sum(i.dry_run for i in items))

    def dashboard(self, bizdate: date) -> Dashboard:
        """Built from the date's instances (ListTaskInstances), the 2020 error ranking
        (TopTenErrorTimesInstance) and the baselines.

        The API has no auto-rerun time, so a failure still within its node's rerun times
        (and rerun mode not Denied) counts as awaiting its auto rerun; 2020's
        TopTenElapsedTimeInstance takes no date, so the slowest are ranked here; the
        success trend reads the successes of the business dates that can finish on those
        days (three days back), so a backfill of an older date is not counted.
        """
        now = self.clock.now()
        now_utc = now.astimezone(UTC).replace(tzinfo=None)
        items = self._periodic(bizdate)
        failed = [i for i in items if i.status is Status.FAILURE and not self._retry_due(i)]
        failed.sort(key=lambda i: (i.finished_at or datetime.min, i.id), reverse=True)
        ran = [i for i in items if i.started_at and not i.dry_run and i.node_type != "virtual"]
        ran.sort(key=lambda i: (-((i.finished_at or now_utc) - i.started_at).total_seconds(), i.id))  # type: ignore[operator]
        ranking = self._legacy("TopTenErrorTimesInstance", {"ProjectId": self.project_id})
        top_errors = [
            NodeErrors(r["NodeName"], r.get("Owner", ""), int(r.get("Count") or 0))
            for r in (ranking.get("InstanceErrorRank") or {}).get("ErrorRank") or []
        ]
        today = now.astimezone(self.zone).date()
        hourly = self._hourly_successes(today - timedelta(days=1), today)
        needs_action = failed[:20]
        return Dashboard(
            counts=self._counts(bizdate, items),
            needs_action=needs_action,
            baselines=self.list_baselines(bizdate),
            top_errors=top_errors,
            slowest=ran[:10],
            succeeded_per_hour=hourly[1],
            succeeded_per_hour_before=hourly[0],
            now=now,
            failure_reasons=self._failure_reasons(needs_action),
        )

    def _failure_reasons(self, failed: list[InstanceInfo]) -> dict[int, str]:
        """The last attempt's reason of each failed instance (the API has no batch read)."""
        reasons = {}
        for info in failed:
            tried = self.attempts(info.id)
            reasons[info.id] = tried[-1].reason if tried else ""
        return reasons

    def _retry_due(self, item: InstanceInfo) -> bool:
        mode = RERUN_MODES.get(self._task(item.node_id).get("RerunMode", ""), "")
        return mode != "Denied" and item.run_number < item.max_attempts

    def _hourly_successes(self, *days: date) -> list[list[int]]:
        """Successes (not dry runs) finished in each hour of each of ``days`` in the
        workspace zone: the business dates that can finish on them (three back) are read
        once for all the days, each date one ListTaskInstances read."""
        starts = [datetime.combine(day, datetime.min.time(), self.zone) for day in days]
        counts = [[0] * 24 for _ in days]
        dates = {day - timedelta(days=back) for day in days for back in range(4)}
        for bizdate in sorted(dates):
            params, _, _ = self._instance_query(
                InstanceFilter(bizdate=bizdate, statuses=(Status.SUCCESS,))
            )
            for item, _ in self._instance_rows(params):
                if item.dry_run or item.finished_at is None:
                    continue
                finished = item.finished_at.replace(tzinfo=UTC)
                for start, hours in zip(starts, counts, strict=True):
                    hour = (finished - start).total_seconds() // 3600
                    if 0 <= hour < 24:
                        hours[int(hour)] += 1
        return counts

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]:
        """Backfills newest first: ListWorkflowInstances needs a BizDate, so the
        SupplementData runs of the last BACKFILL_SCAN_DAYS business dates are read, with
        the ones this console created (its audit) whatever their dates."""
        today = self.clock.now().astimezone(self.zone).date()
        ids = set(self._audited_backfills())
        for back in range(1, BACKFILL_SCAN_DAYS + 1):
            rows = self._pages(
                "ListWorkflowInstances",
                "WorkflowInstances",
                {
                    "ProjectId": self.project_id,
                    "BizDate": self._bizdate_ms(today - timedelta(days=back)),
                    "Type": "SupplementData",
                    "EnvType": "Prod",
                },
            )
            ids.update(int(r["Id"]) for r in rows)
        return [self.get_backfill(i) for i in sorted(ids, reverse=True)[:limit]]

    def _audited_backfills(self) -> list[int]:
        """Ids named by this console's successful backfills: "... as workflow instances
        #7, #8" or "... as workflow instance #7", and "... as workflow instance(s) #7"
        as audit files written before the count agreed with its noun still say."""
        entries = self.audit_log(limit=10_000)
        found = [
            re.findall(r"#(\d+)", e.detail.rpartition(CREATED_AS)[2])
            for e in entries
            if e.action == "backfill" and e.outcome == "ok" and CREATED_AS in e.detail
        ]
        return [int(i) for ids in found for i in ids]

    def get_backfill(self, backfill_id: int) -> BackfillInfo:
        """GetWorkflowInstance, and its task instances grouped by business date.

        The API tells neither the parallelism, the order nor the time window (they read
        1, ascending and none), and a date whose instances are not generated yet has no
        run to show.
        """
        with self._missing_as(not_found("backfill", [backfill_id], self._name)):
            row = self._get("GetWorkflowInstance", {"Id": backfill_id})["WorkflowInstance"]
        params, _, _ = self._instance_query(
            InstanceFilter(backfill_id=backfill_id, kind=InstanceKind.BACKFILL)
        )
        by_date: dict[date, list[InstanceInfo]] = {}
        for item, _ in self._instance_rows(params):
            by_date.setdefault(item.bizdate, []).append(item)
        runs = [
            BackfillRunInfo(day, position, self._run_status(items), self._counts(day, items).counts)
            for position, (day, items) in enumerate(sorted(by_date.items()))
        ]
        nodes = sorted({i.node for items in by_date.values() for i in items})
        return BackfillInfo(
            id=int(row["Id"]),
            name=row.get("Name", ""),
            created_by=row.get("Owner", ""),
            created_at=_moment(row.get("CreateTime") or row.get("StartedTime")) or datetime.min,
            nodes=tuple(nodes),
            parallel=1,
            descending=False,
            window=None,
            status=str(row.get("Status", "")).upper(),
            runs=runs,
        )

    def _run_status(self, items: list[InstanceInfo]) -> str:
        """As the local engine judges a backfill date: all succeeded, a failure with no
        auto rerun left, or still running."""
        if all(i.status is Status.SUCCESS for i in items):
            return "SUCCESS"
        failed = [i for i in items if i.status is Status.FAILURE and not self._retry_due(i)]
        return "FAILURE" if failed else "RUNNING"

    def _scan_window(self) -> dict[str, str]:
        end = self.clock.now().astimezone(UTC) + timedelta(days=1)
        begin = end - timedelta(days=EVENT_SCAN_DAYS + 1)
        return {"BeginTime": begin.strftime(ISO_UTC), "EndTime": end.strftime(ISO_UTC)}

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]:
        """ListTopics over the last EVENT_SCAN_DAYS, each topic's baseline and business
        date from GetTopicInfluence; ``updated_by`` is unknown to the API."""
        params = self._scan_window()
        if open_only:
            params["TopicStatuses"] = "NEW,FIXING"
        topics = self._pages_2020("ListTopics", "Topics", params)
        topics = sorted(topics, key=lambda t: int(t["TopicId"]), reverse=True)[:limit]
        events = []
        for topic in topics:
            influences = self._legacy("GetTopicInfluence", {"TopicId": topic["TopicId"]})
            found = (influences.get("Data") or {}).get("Influences") or [{}]
            happened = _moment(topic.get("HappenTime")) or datetime.min
            events.append(
                EventInfo(
                    id=int(topic["TopicId"]),
                    baseline=found[0].get("BaselineName", ""),
                    bizdate=self._wall(found[0]["Bizdate"]).date()
                    if found[0].get("Bizdate") is not None
                    else happened.date(),
                    instance_id=int(topic["InstanceId"]),
                    node=topic.get("NodeName", ""),
                    kind=topic.get("TopicType", ""),
                    status=topic.get("TopicStatus", ""),
                    message=topic.get("TopicName", ""),
                    created_at=happened,
                    updated_at=_moment(topic.get("FixTime")) or happened,
                    updated_by="",
                )
            )
        return events

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]:
        """ListAlertMessages over the last EVENT_SCAN_DAYS: one message per send, so the
        send count, the rule's kind and resolution are not known here."""
        rows = self._pages_2020("ListAlertMessages", "AlertMessages", self._scan_window())
        rows = sorted(rows, key=lambda r: int(r["AlertId"]), reverse=True)[:limit]
        return [self._alert(r) for r in rows]

    def _alert(self, row: dict[str, Any]) -> AlertInfo:
        instances, sla = row.get("Instances") or [], row.get("SlaAlert")
        if instances:
            target = f"instance:{instances[0]['InstanceId']}"
        elif sla:
            target = f"baseline:{sla['BaselineId']}:{self._wall(sla['Bizdate']).date()}"
        else:
            target = ""
        sent = _moment(row.get("AlertTime")) or datetime.min
        failed = row.get("AlertMessageStatus") == "SEND_FAIL"
        return AlertInfo(
            id=int(row["AlertId"]),
            rule=row.get("RemindName", ""),
            kind=row.get("Source", ""),
            target=target,
            message=row.get("Content", ""),
            first_at=sent,
            last_sent_at=None if failed else sent,
            sent_count=0 if failed else 1,
            last_error="sending failed" if failed else "",
            resolved_at=None,
        )

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        """ListBaselineStatuses; an unfinished baseline's status and key path are read too
        (GetBaselineStatus, GetBaselineKeyPath), so a blocked one reads blocked here as it
        does in its detail: two calls per unfinished baseline, and one per instance that
        may block it."""
        stamp = f"{bizdate.isoformat()}T00:00:00Z"
        rows = self._pages_2020("ListBaselineStatuses", "BaselineStatuses", {"Bizdate": stamp})
        configs = {
            int(b["BaselineId"]): b
            for b in self._pages_2020("ListBaselines", "Baselines", {"ProjectId": self.project_id})
        }
        found = []
        for row in rows:
            base = self._baseline(row, configs.get(int(row["BaselineId"]), {}))
            if self._may_be_blocked(base):
                key = {"BaselineId": row["BaselineId"], "Bizdate": stamp, "InGroupId": base.cycle}
                status = self._legacy("GetBaselineStatus", key)["Data"]
                path = self._legacy("GetBaselineKeyPath", key)["Data"] or []
                base = self._blocked(base, status, path)
            found.append(base)
        return found

    def _pages_2020(self, action: str, key: str, params: dict[str, Any]) -> list[Any]:
        try:
            items = list(
                self.client.iter_items(action, key, params, container="Data", version=V2020)
            )
        except DataWorksError as error:
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return _answer(items, action, "")

    def _baseline(self, row: dict[str, Any], config: dict[str, Any]) -> BaselineStatus:
        finished = row.get("FinishStatus") == "FINISH"
        return BaselineStatus(
            name=row["BaselineName"],
            owner=row.get("Owner", ""),
            priority=int(row.get("Priority") or 1),
            type=str(config.get("BaselineType", "")).lower(),
            bizdate=self._wall(row["Bizdate"]).date(),
            cycle=int(row.get("InGroupId") or 1),
            status=BASELINE_STATUS.get(row["Status"], row["Status"]),
            finished=finished,
            committed_at=_moment(row["SlaTime"]),  # type: ignore[arg-type]
            alert_at=_moment(row["ExpTime"]),  # type: ignore[arg-type]
            predicted_finish=_moment(row.get("FinishTime") if finished else row.get("EndCast")),
            key_instance=None,
            protected=0,
            nodes=(),
        )

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail:
        stamp = f"{bizdate.isoformat()}T00:00:00Z"
        rows = self._pages_2020("ListBaselineStatuses", "BaselineStatuses", {"Bizdate": stamp})
        found = [r for r in rows if r["BaselineName"] == name and int(r["InGroupId"]) == cycle]
        if not found:
            raise no_baseline(name, bizdate, cycle)
        key = {"BaselineId": found[0]["BaselineId"], "Bizdate": stamp, "InGroupId": cycle}
        status = self._legacy("GetBaselineStatus", key)["Data"]
        path = self._legacy("GetBaselineKeyPath", key)["Data"] or []
        steps = [
            KeyPathStep(
                self.get_instance(int(s["InstanceId"])),
                _moment(s["Runs"][0].get("BeginCast")),  # type: ignore[arg-type]
                _moment(s["Runs"][0].get("EndCast")),  # type: ignore[arg-type]
            )
            for s in path
            if s.get("Runs")
        ]
        last = status.get("LastInstance")
        key_instance = self.get_instance(int(last["InstanceId"])) if last else None
        base = replace(self._baseline(status, {}), key_instance=key_instance)
        detail = self._blocked(base, status, path) if self._may_be_blocked(base) else base
        return BaselineDetail(detail, steps, [])

    @staticmethod
    def _may_be_blocked(base: BaselineStatus) -> bool:
        """Unfinished and not ERROR (outputs frozen or missing: no blocker is named then)."""
        return not base.finished and base.status != "ERROR"

    def _blocked(
        self, base: BaselineStatus, status: dict[str, Any], path: list[dict[str, Any]]
    ) -> BaselineStatus:
        """The baseline as the local rule reads it (sla/predict.py) when an instance it
        waits on cannot finish without an operator: blocked by it, no finish predicted
        (DataWorks' EndCast is a guess then), WARNING until the committed time and OVER
        after it (or when DataWorks says OVER), and no finish "if rerun now": the API has
        no what-if prediction. Its key instance is the first blocker on the key path."""
        blockers = self._blockers(status, path)
        if not blockers:
            return base
        now = self.clock.now().astimezone(UTC).replace(tzinfo=None)
        over = base.status == "OVER" or now > base.committed_at
        return replace(
            base,
            status="OVER" if over else "WARNING",
            predicted_finish=None,
            key_instance=blockers[0],
            blocked_by=tuple(Blocker(i.id, i.node, i.status) for i in sorted(blockers, key=_id)),
            if_rerun_now=None,
        )

    def _blockers(self, status: dict[str, Any], path: list[dict[str, Any]]) -> list[InstanceInfo]:
        """The instances holding the baseline, in key path order: its blocking instance
        (GetBaselineStatus ``BlockInstance``) and every FAILURE on its key path, read each
        (GetTaskInstance / GetInstance) to tell a blocker from one still on its way.

        A blocker is FROZEN (a suspended instance, or one of a paused node), or FAILURE
        with no automatic rerun left. The API has no auto-rerun time, so a rerun counts
        as pending while the instance ran and failed fewer times than its node's rerun
        times allow (rerun mode not Denied; 2020 reads the instance's ``TaskRerunTime``);
        when that cannot be told (the node unknown, no rerun count given, a failure that
        never ran, as DataWorks fails a frozen instance at its time) a FAILURE on the key
        path counts as a blocker. An operator's stop is not visible either, so a stopped
        instance with reruns left reads as awaiting its rerun. Only the key path is seen:
        a blocker off it (or a frozen instance on it that is not the blocking instance)
        is left out rather than guessed."""
        order = [int(s["InstanceId"]) for s in path if s.get("InstanceId")]
        wanted = [
            int(s["InstanceId"])
            for s in path
            if s.get("InstanceId") and _run_status(s) == Status.FAILURE.value
        ]
        block = status.get("BlockInstance") or {}
        if block.get("InstanceId") and block.get("Status") in ("FAILURE", "NOT_RUN"):
            wanted.append(int(block["InstanceId"]))
        found = []
        for instance_id in dict.fromkeys(wanted):
            item = self.get_instance(instance_id)
            if item.status is Status.FROZEN or (
                item.status is Status.FAILURE
                and not (item.run_number >= 1 and self._retry_due(item))
            ):
                found.append(item)
        place = {instance_id: n for n, instance_id in enumerate(order)}
        return sorted(found, key=lambda i: place.get(i.id, -1))

    # -- audit ----------------------------------------------------------------------------

    def _audit(self, action: str, targets: Sequence[int | str], outcome: str, detail: str) -> None:
        entry = {
            "at": self.clock.now().astimezone(UTC).replace(tzinfo=None).isoformat(),
            "user": self.user,
            "action": action,
            "targets": list(targets),
            "outcome": outcome,
            "detail": detail,
            "source": "dataworks",
        }
        make_private_dirs(self.audit_path.parent)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = open_for_append(self.audit_path)  # owner-only, as the local state is
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        """Entries newest first; an entry's id is its line number in the file."""
        if not self.audit_path.exists():
            return []
        lines = self.audit_path.read_text(encoding="utf-8").splitlines()
        entries = [
            AuditEntry(
                number,
                datetime.fromisoformat(e["at"]),
                e["user"],
                e["action"],
                e["targets"],
                e["outcome"],
                e["detail"],
                e["source"],
                datetime.fromisoformat(e["at"]),  # DataWorks' world is in real time
            )
            for number, e in ((n, json.loads(line)) for n, line in enumerate(lines, 1) if line)
            if before_id is None or number < before_id
        ]
        return entries[::-1][:limit]

    # -- acting ---------------------------------------------------------------------------

    def _act(
        self, action: str, targets: Sequence[int | str], call: Callable[[], ActionResult]
    ) -> ActionResult:
        """Refuse read-only, run, and audit the outcome (ok or refused) either way."""
        try:
            if self.readonly:
                raise ActionRefused(read_only_refusal(action))
            result = call()
        except ActionRefused as refused:
            outcome = "unknown" if isinstance(refused, OutcomeUnknown) else "refused"
            self._audit(action, targets, outcome, refused.reason)
            raise
        self._audit(action, targets, "ok", result.message)
        return result

    def record_refusal(self, action: str, targets: Sequence[int | str], reason: str) -> None:
        """A refusal the console made itself, in the same audit file as ``_act``'s."""
        self._audit(action, targets, "refused", reason)

    def _send(self, api: str, verb: str, ids: Sequence[int]) -> dict[int, str | None]:
        """One batch call: id -> None when done, else DataWorks' message for it."""
        answer = self._call(api, {"Ids": list(ids), "Comment": f"{verb} by {self.user}"})
        info = answer["SuccessInfo"] or {}  # a batch answer without it is malformed
        return {
            i: None
            if (info.get(str(i)) or {}).get("Success")
            else (info.get(str(i)) or {}).get("Message") or "no result for this id"
            for i in ids
        }

    def _batch(self, api: str, verb: str, ids: Sequence[int]) -> list[int]:
        """A 200 can hide per-id failures (spec 3.4), so each id's outcome is checked."""
        outcome = self._send(api, verb, ids)
        done = [i for i in ids if outcome[i] is None]
        failed = [f"#{i}: {outcome[i]}" for i in ids if outcome[i] is not None]
        if failed:
            reason = f"{verb} failed for {len(failed)} of {len(ids)}: " + "; ".join(failed)
            if done:
                reason += f" (done: {', '.join(f'#{i}' for i in done)})"
            raise ActionRefused(reason)
        return done

    def _check_exist(self, ids: Sequence[int]) -> None:
        """Every id an instance of this workspace (one ListTaskInstances), or NotFound
        before anything is sent, as the local backend refuses the whole batch."""
        params = {"ProjectId": self.project_id, "ProjectEnv": "Prod", "Ids": list(ids)}
        found = {info.id for info, _ in self._instance_rows(params)}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise not_found("instance", missing, self._name)

    def _instance_action(self, api: str, verb: str, ids: Sequence[int]) -> ActionResult:
        def call() -> ActionResult:
            self._check_exist(ids)
            done = self._batch(api, verb, ids)
            return ActionResult(
                verb, done, f"{counted(len(done), 'instance')}: {verb} done by DataWorks"
            )

        return self._act(verb, list(ids), call)

    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        if not downstream:
            return self._instance_action("RerunTaskInstances", "rerun", instance_ids)
        return self._act(
            "rerun downstream", list(instance_ids), lambda: self._rerun_waves(instance_ids)
        )

    def _rerun_waves(self, ids: Sequence[int]) -> ActionResult:
        """Spec 6: no API reruns downstream, so the descendants are rerun here, wave by
        wave in dependency order; a failed wave stops the later ones. Checked first as the
        local backend checks it, so a refusal comes before any wave is sent."""
        self._check_rerun("rerun downstream", ids)
        waves = self._downstream_waves(ids)
        done: list[int] = []
        for number, wave in enumerate(waves):
            try:
                done += self._batch("RerunTaskInstances", "rerun", wave)
            except ActionRefused as refused:
                left = [i for w in waves[number + 1 :] for i in w]
                extra = f"; not attempted: {', '.join(f'#{i}' for i in left)}" if left else ""
                earlier = f"; rerun before: {', '.join(f'#{i}' for i in done)}" if done else ""
                raise ActionRefused(refused.reason + earlier + extra) from None
        return ActionResult(
            "rerun downstream",
            done,
            f"{counted(len(done), 'instance')} rerun in {counted(len(waves), 'wave')} "
            "of dependency order",
        )

    def _downstream_waves(self, ids: Sequence[int]) -> list[list[int]]:
        """The chosen instances, then their same-cycle descendants in topological waves;
        frozen descendants stay as they are, a running one (or one whose node denies
        reruns) refuses the whole rerun."""
        parents: dict[int, set[int]] = {i: set() for i in ids}
        infos: dict[int, InstanceInfo] = {}
        frontier = list(ids)
        while frontier:
            nxt: list[int] = []
            for parent in frontier:
                for cross, child in self._neighbours(parent, "down"):
                    if cross or child.id in ids:
                        continue
                    if child.id not in parents:
                        parents[child.id] = set()
                        infos[child.id] = child
                        nxt.append(child.id)
                    parents[child.id].add(parent)
            frontier = nxt
        frozen = {i.id for i in infos.values() if i.status in KEPT_BELOW}
        check_below(self._target(i) for i in infos.values() if i.id not in frozen)
        waves: list[list[int]] = []
        placed: set[int] = set()
        while len(placed) < len(parents):
            wave = sorted(i for i, up in parents.items() if i not in placed and up <= placed)
            placed.update(wave)
            waves.append([i for i in wave if i not in frozen])
        return [w for w in waves if w]

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        """What rerun would send, checked here as the local backend checks it."""
        action = "rerun downstream" if downstream else "rerun"
        self._check_rerun(action, instance_ids)
        waves = self._downstream_waves(instance_ids) if downstream else [list(instance_ids)]
        affected = [i for w in waves for i in w]
        return ActionResult(
            action, affected, f"{counted(len(affected), 'instance')} would be rerun"
        )

    def baseline_impact(
        self, action: str, instance_ids: Sequence[int], downstream: bool = False
    ) -> list[BaselineImpact] | None:
        """Unknown: DataWorks predicts baselines on its side and has no what-if operation, and
        its durations and protected sets are not in the API to predict with here."""
        return None

    def _target(self, item: InstanceInfo) -> ActionTarget:
        """What the preconditions look at: the instance's status, its task's rerun mode."""
        mode = RERUN_MODES.get(self._task(item.node_id).get("RerunMode", ""), "")
        return ActionTarget(item.id, item.node, item.status, mode)

    def _check_rerun(self, action: str, ids: Sequence[int]) -> None:
        """The domain's rerun preconditions on the instances as DataWorks reports them."""
        check_action(action, [self._target(self.get_instance(i)) for i in ids])

    def set_success(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._instance_action("SetSuccessTaskInstances", "set success", instance_ids)

    def stop(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._instance_action("StopTaskInstances", "stop", instance_ids)

    def freeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._instance_action("SuspendTaskInstances", "freeze", instance_ids)

    def unfreeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._instance_action("ResumeTaskInstances", "unfreeze", instance_ids)

    def freeze_node(self, node: str) -> ActionResult:
        return self._act("freeze node", [node], lambda: self._set_recurrence(node, "Pause"))

    def unfreeze_node(self, node: str) -> ActionResult:
        return self._act("unfreeze node", [node], lambda: self._set_recurrence(node, "Normal"))

    def _set_recurrence(self, node: str, recurrence: str) -> ActionResult:
        """UpdateTask with the full trigger read from GetTask (spec 3.1: merge is unverified)."""
        task_id = self.get_node(node).id
        task = self._get("GetTask", {"Id": task_id, "ProjectEnv": "Prod"})["Task"]
        trigger = {**(task.get("Trigger") or {}), "Recurrence": recurrence}
        self._call("UpdateTask", {"Id": task_id, "EnvType": "Prod", "Trigger": trigger})
        self._tasks.clear()
        action, verb = ("freeze", "frozen") if recurrence == "Pause" else ("unfreeze", "unfrozen")
        return ActionResult(f"{action} node", [task_id], f"node {node} {verb} in DataWorks")

    def preview_backfill(self, request: BackfillRequest) -> ActionResult:
        """Planned here as the local engine plans (DataWorks has no dry run): the tasks'
        crons from ListTasks, the same-cycle downstream from ListDownstreamTasks."""
        tasks = self._task_map(refresh=True)
        by_name = {t["Name"]: t for t in tasks.values()}
        parents: dict[str, set[str]] = {name: set() for name in by_name}
        if request.node in by_name and (request.downstream or request.include):
            self._walk_down(by_name[request.node], parents)
        nodes = {
            name: PlanNode(
                name,
                (task.get("Trigger") or {}).get("Cron", ""),
                tuple(sorted(parents[name])),
                (task.get("Trigger") or {}).get("Recurrence") == "Pause",
            )
            for name, task in by_name.items()
        }
        planned = backfill_plan.plan(nodes, self.zone, request)
        return ActionResult(
            "backfill preview",
            [],
            planned.describe(),
            extra={"instances": planned.instances, "dates": len(planned.dates)},
        )

    def _downstream_tasks(self, task: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
        """(cross-cycle?, task) for each task that depends on ``task``."""
        rows = self._pages("ListDownstreamTasks", "DownstreamTasks", {"Id": task["Id"]}, "GET")
        return [(r.get("DependencyType") == "CrossCycle", r["Task"]) for r in rows]

    def _walk_down(self, root: dict[str, Any], parents: dict[str, set[str]]) -> None:
        """Same-cycle edges below ``root``, one ListDownstreamTasks call per task reached."""
        frontier, seen = [root], {int(root["Id"])}
        while frontier:
            task = frontier.pop()
            for cross, child in self._downstream_tasks(task):
                if cross:
                    continue
                parents.setdefault(child["Name"], set()).add(task["Name"])
                if int(child["Id"]) not in seen:
                    seen.add(int(child["Id"]))
                    frontier.append(child)

    def backfill(self, request: BackfillRequest) -> ActionResult:
        targets = [request.node, f"{request.start}..{request.end}"]
        return self._act("backfill", targets, lambda: self._create_backfill(request))

    def _create_backfill(self, request: BackfillRequest) -> ActionResult:
        """CreateWorkflowInstances (SupplementData), then poll its operation (spec 3.5)."""
        ids = {n.name: n.id for n in self.list_nodes()}
        missing = [n for n in (request.node, *request.include, *request.exclude) if n not in ids]
        if missing:
            raise NotFound(f"no deployed node {missing[0]!r} in workspace {self._name}")
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
        operation = self._call(
            "CreateWorkflowInstances",
            {
                "Name": name,
                "ProjectId": self.project_id,
                "EnvType": "Prod",
                "Type": "SupplementData",
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "Periods": periods,
                "DefaultRunProperties": properties,
            },
        )["OperationId"]
        result = self._poll_creation(operation)
        created = [int(i) for i in result.get("WorkflowInstanceIds") or []]
        return ActionResult(
            "backfill",
            created,
            f"backfill {name!r} created in DataWorks as {noun(len(created), 'workflow instance')} "
            f"{', '.join(f'#{i}' for i in created)}",
            extra={"backfill_id": created[0] if created else None},
        )

    def _poll_creation(self, operation: str) -> dict[str, Any]:
        for _ in range(POLL_LIMIT):
            result = self._get("GetCreateWorkflowInstancesResult", {"OperationId": operation})[
                "Result"
            ]
            if result.get("Status") == "Created":
                return result
            if result.get("Status") == "CreateFailure":
                raise ActionRefused(
                    f"DataWorks could not create the backfill: {result.get('FailureMessage', '')}"
                )
            time.sleep(POLL_SECONDS)
        waited = timedelta(seconds=POLL_LIMIT * POLL_SECONDS)
        raise ActionRefused(
            f"DataWorks is still creating backfill operation {operation} after {waited}"
        )

    def undeploy(self, node: str) -> ActionResult:
        return self._act("undeploy", [node], lambda: self._undeploy(node))

    def _undeploy(self, node: str) -> ActionResult:
        """An Offline deployment pipeline (spec 3.6) for the task's Data Studio node,
        its stages executed in order here and polled until the run ends."""
        task_id = self.get_node(node).id
        studio = [
            n
            for n in self._pages(
                "ListNodes",
                "Nodes",
                {"ProjectId": self.project_id, "Scene": "DataworksProject", "Name": node},
                "GET",
            )
            if str(n.get("TaskId")) == str(task_id)
        ]
        if not studio:
            raise ActionRefused(
                f"no Data Studio node is linked to task {node} (#{task_id}); "
                "undeploy it in DataWorks Data Studio"
            )
        run = self._call(
            "CreatePipelineRun",
            {
                "ProjectId": self.project_id,
                "Type": "Offline",
                "ObjectIds": [str(studio[0]["Id"])],
                "Description": f"undeploy {node} from opscenter by {self.user}",
            },
        )["Id"]
        self._drive_pipeline(str(run))
        self._tasks.clear()
        return ActionResult(
            "undeploy", [task_id], f"node {node} undeployed in DataWorks (pipeline run {run})"
        )

    def _drive_pipeline(self, run: str) -> None:
        """Execute each stage once the one before it succeeded; refuse on a failed,
        cancelled or stuck run, naming the stage and DataWorks' message."""
        key = {"Id": run, "ProjectId": self.project_id}
        for _ in range(POLL_LIMIT):
            pipeline = self._get("GetPipelineRun", key)["Pipeline"]
            stages = sorted(pipeline.get("Stages") or [], key=lambda s: int(s.get("Step") or 0))
            status = pipeline.get("Status")
            if status == "Success":
                return
            if status in PIPELINE_ENDED:
                bad = next((s for s in stages if s.get("Status") in PIPELINE_ENDED), {})
                raise ActionRefused(
                    f"DataWorks pipeline run {run} ended {status}"
                    + (f" at stage {bad.get('Name') or bad.get('Code')}" if bad else "")
                    + f": {bad.get('Message') or pipeline.get('Message') or 'no message'}"
                )
            if not any(s.get("Status") == "Running" for s in stages):
                waiting = next((s for s in stages if s.get("Status") == "Init"), None)
                if waiting is not None:
                    self._call(
                        "ExecPipelineRunStage",
                        {"Id": run, "Code": waiting["Code"]},
                        query={"ProjectId": self.project_id},
                    )
                    continue
            time.sleep(POLL_SECONDS)
        waited = timedelta(seconds=POLL_LIMIT * POLL_SECONDS)
        raise ActionRefused(
            f"DataWorks pipeline run {run} has not finished after {waited}; follow it in DataWorks"
        )

    def handle_event(self, event_id: int, status: str) -> ActionResult:
        return self._act(
            "handle event",
            [event_id, status],
            lambda: self._refuse(
                unavailable("handling events", "an event-status API (the OpenAPI has none)")
            ),
        )

    @staticmethod
    def _refuse(refusal: ActionRefused) -> ActionResult:
        raise refusal
