"""The 2024-05-18 workflow operations: workflow instances (backfill as SupplementData,
test runs as SmokeTest, manual runs as Manual/ManualWorkflow), their asynchronous creation,
and the manual workflows, served over one LocalBackend."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any

from opscenter.backends.dataworks.emulator.base import Group, required_int
from opscenter.backends.dataworks.emulator.mapping import (
    PERIODIC_WORKFLOW_ID,
    Mapper,
    paged,
    workflow_id,
)
from opscenter.backends.dataworks.emulator.wire import V2024, ApiFailure, Params, invalid, is_id
from opscenter.backends.dataworks.vocabulary import MANUAL_TRIGGER, MANUAL_WORKFLOW, PROD_2024
from opscenter.backends.local import LocalBackend
from opscenter.domain.preconditions import STOP_FROM
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillRequest,
    InstanceFilter,
    NodeFilter,
    NodeInfo,
)


class Workflows2024(Group):
    """Workflow instances and manual workflows (2024-05-18), over one LocalBackend."""

    VERSION = V2024
    ACTIONS = (
        "CreateWorkflowInstances",
        "GetCreateWorkflowInstancesResult",
        "ListWorkflowInstances",
        "GetWorkflowInstance",
        "StopWorkflowInstances",
        "ListWorkflows",
        "GetWorkflow",
    )

    def __init__(self, backend: LocalBackend, mapper: Mapper) -> None:
        super().__init__(backend, mapper)
        self._operations: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- workflow instances, backfill, test and manual runs ---------------------------------

    def CreateWorkflowInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        name = params.text("Name", required=True)
        kind = params.text("Type", required=True)
        if kind in RUNS:
            return self._start(partial(RUNS[kind], self, params))
        if kind != "SupplementData":
            raise invalid("Type", f"{kind!r} is not one of SupplementData, {', '.join(RUNS)}")
        if params.int("WorkflowId", required=True) != PERIODIC_WORKFLOW_ID:
            raise invalid("WorkflowId", "backfill runs use WorkflowId 1 (periodic tasks)")
        requests = self._backfill_requests(
            name,
            params.json("Periods", required=True),
            params.json("DefaultRunProperties", required=True),
        )
        return self._start(partial(self._create_backfills, requests))

    def _start(self, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """An operation created at once: Created or CreateFailure when first polled."""
        operation_id = uuid.uuid4().hex
        result = create()
        with self._lock:
            self._operations[operation_id] = result
        return {"OperationId": operation_id}

    def _test_run(self, params: Params) -> dict[str, Any]:
        """SmokeTest: one root task of the periodic workflow, one business date."""
        if params.int("WorkflowId", required=True) != PERIODIC_WORKFLOW_ID:
            raise invalid("WorkflowId", "a test run is of a periodic task: WorkflowId 1")
        properties = params.json("DefaultRunProperties", required=True)
        roots = _id_list(properties if isinstance(properties, dict) else {}, "RootTaskIds")
        if len(roots) != 1:
            raise invalid("DefaultRunProperties", "a test run has exactly one RootTaskIds entry")
        node = self._node(roots[0])
        bizdate = _one_date(params.json("Periods", required=True))
        return self._created(
            lambda: self.backend.test_run(node.name, bizdate, comment=params.text("Comment"))
        )

    def _manual_run(self, params: Params) -> dict[str, Any]:
        """ManualWorkflow: the whole manual workflow; Manual: its ``IncludeTaskIds``."""
        wanted = params.int("WorkflowId", required=True)
        nodes = [n for n in self._manual_nodes() if workflow_id(n.workflow) == wanted]
        if not nodes:
            raise invalid("WorkflowId", f"no manual workflow with id {wanted}")
        workflow = nodes[0].workflow
        names = {n.id: n.name for n in nodes}
        chosen: list[str] = []
        if params.text("Type") != MANUAL_WORKFLOW:
            properties = params.json("DefaultRunProperties", required=True)
            include = _id_list(properties if isinstance(properties, dict) else {}, "IncludeTaskIds")
            stray = [i for i in include if i not in names]
            if not include or stray:
                why = f"task {stray[0]} is not in it" if stray else "none given"
                raise invalid("DefaultRunProperties", f"IncludeTaskIds of {workflow}: {why}")
            chosen = [names[i] for i in include]
        bizdate = _one_date(params.json("Periods", required=True))
        return self._created(
            lambda: self.backend.run_manual(
                workflow, bizdate, chosen, comment=params.text("Comment")
            )
        )

    def _created(self, run: Callable[[], ActionResult]) -> dict[str, Any]:
        """A test or manual run as an operation's result: one workflow instance."""
        try:
            created = run().affected
        except ActionRefused as refused:
            return {"Status": "CreateFailure", "FailureMessage": refused.reason}
        return {"Status": "Created", "WorkflowInstanceIds": [self.map.record_run(created)]}

    def _manual_nodes(self) -> list[NodeInfo]:
        return self.backend.list_nodes(NodeFilter(trigger=MANUAL_TRIGGER))

    def _create_backfills(self, requests: list[BackfillRequest]) -> dict[str, Any]:
        created: list[int] = []
        try:
            for request in requests:
                created.append(self.backend.backfill(request).extra["backfill_id"])
        except ActionRefused as refused:
            return {"Status": "CreateFailure", "FailureMessage": refused.reason}
        return {"Status": "Created", "WorkflowInstanceIds": created}

    def _backfill_requests(self, name: str, periods: Any, properties: Any) -> list[BackfillRequest]:
        if not isinstance(properties, dict):
            raise invalid("DefaultRunProperties", "expected a JSON object")
        names = {n.id: n.name for n in self._nodes()}
        mode = properties.get("Mode")
        roots = _id_list(properties, "RootTaskIds")
        if mode not in ("General", "AllDownstream") or len(roots) != 1:
            raise invalid(
                "DefaultRunProperties",
                "Mode must be General or AllDownstream with exactly one RootTaskIds entry",
            )
        unknown = [i for i in roots + _id_list(properties, "IncludeTaskIds") if i not in names]
        unknown += [i for i in _id_list(properties, "ExcludeTaskIds") if i not in names]
        if unknown:
            raise invalid("DefaultRunProperties", f"no deployed task with id {unknown[0]}")
        parallel = properties.get("Parallelism", 1)
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise invalid("DefaultRunProperties", "Parallelism must be an integer")
        ranges, window = _periods(periods)
        first = BackfillRequest(
            node=names[roots[0]],
            start=ranges[0][0],
            end=ranges[0][1],
            downstream=mode == "AllDownstream",
            include=tuple(
                names[i] for i in _id_list(properties, "IncludeTaskIds") if i != roots[0]
            ),
            exclude=tuple(names[i] for i in _id_list(properties, "ExcludeTaskIds")),
            parallel=parallel,
            descending=properties.get("Order") == "Desc",
            window=window,
            name=name,
        )
        return [dataclasses.replace(first, start=start, end=end) for start, end in ranges]

    def GetCreateWorkflowInstancesResult(self, params: Params) -> dict[str, Any]:
        operation_id = params.text("OperationId", required=True)
        with self._lock:
            result = self._operations.get(operation_id)
        if result is None:
            raise invalid("OperationId", f"no operation {operation_id!r}")
        return {"Result": result}

    def ListWorkflowInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        bizdate = self.map.bizdate_of(required_int(params, "BizDate"))
        kind, ids = params.text("Type"), set(params.ids("Ids"))
        name = params.text("Name")
        rows = [
            self.map.workflow_instance(b)
            for b in self.backend.list_backfills(limit=1000)
            if any(r.bizdate == bizdate for r in b.runs)
            and (not ids or b.id in ids)
            and (not name or name.lower() in b.name.lower())
        ]
        if kind and kind != "SupplementData":
            rows = []
        return {"PagingInfo": paged(rows, number, size, "WorkflowInstances")}

    def GetWorkflowInstance(self, params: Params) -> dict[str, Any]:
        backfill = self.backend.get_backfill(required_int(params, "Id"))
        return {"WorkflowInstance": self.map.workflow_instance(backfill)}

    def StopWorkflowInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self._stop_backfill)

    def _stop_backfill(self, ids: list[int]) -> ActionResult:
        """Stop every instance of the backfill that a stop applies to (running or waiting for
        its time or a slot); one waiting on its upstream stays, as a local stop leaves it."""
        self.backend.get_backfill(ids[0])
        flt = InstanceFilter(backfill_id=ids[0], statuses=STOP_FROM, limit=500)
        open_ids = [i.id for i in self._all_instances(flt)]
        if not open_ids:
            return ActionResult("stop", [], f"backfill #{ids[0]} has nothing left to stop")
        return self.backend.stop(open_ids)

    # -- manual workflows -------------------------------------------------------------------

    def ListWorkflows(self, params: Params) -> dict[str, Any]:
        """The manual workflows (the local world has no other kind of workflow to list)."""
        self._project(params)
        number, size = params.paging()
        trigger, name, ids = params.text("TriggerType"), params.text("Name"), params.ids("Ids")
        rows = [
            self._workflow(workflow, nodes)
            for workflow, nodes in sorted(self._workflows().items())
            if trigger in ("", MANUAL_TRIGGER)
            and (not name or name.lower() in workflow.lower())
            and (not ids or workflow_id(workflow) in ids)
        ]
        return {"PagingInfo": paged(rows, number, size, "Workflows")}

    def GetWorkflow(self, params: Params) -> dict[str, Any]:
        wanted = required_int(params, "Id")
        for workflow, nodes in self._workflows().items():
            if workflow_id(workflow) == wanted:
                tasks = [self._workflow_task(n) for n in nodes]
                return {"Workflow": {**self._workflow(workflow, nodes), "Tasks": tasks}}
        raise ApiFailure(400, "InvalidParameter", f"No workflow with id {wanted}.")

    def _workflow_task(self, node: NodeInfo) -> dict[str, Any]:
        """A task as GetWorkflow's ``Tasks`` has it: its recurrence as ``TriggerRecurrence``
        (no ``Trigger``), ``EnvType``, and none of GetTask's other fields."""
        task = self.map.task(node)
        kept = {k: v for k, v in task.items() if k in _WORKFLOW_TASK_FIELDS}
        return {**kept, "EnvType": PROD_2024, "TriggerRecurrence": task["Trigger"]["Recurrence"]}

    def _workflows(self) -> dict[str, list[NodeInfo]]:
        found: dict[str, list[NodeInfo]] = {}
        for node in sorted(self._manual_nodes(), key=lambda n: n.id):
            found.setdefault(node.workflow, []).append(node)
        return found

    def _workflow(self, name: str, nodes: list[NodeInfo]) -> dict[str, Any]:
        return {
            "Id": workflow_id(name),
            "Name": name,
            "Owner": nodes[0].owner,
            "EnvType": PROD_2024,
            "Trigger": {"Type": MANUAL_TRIGGER},
            "Description": "",
        }


# The fields of GetWorkflow's Workflow.Tasks[] (the SDK's model) that a task row has.
_WORKFLOW_TASK_FIELDS = {
    "Id",
    "Name",
    "Type",
    "Owner",
    "Description",
    "ProjectId",
    "WorkflowId",
    "Priority",
    "RerunMode",
    "RerunTimes",
    "RerunInterval",
    "Timeout",
    "RuntimeResource",
    "CreateTime",
    "ModifyTime",
}


RUNS: dict[str, Callable[[Workflows2024, Params], dict[str, Any]]] = {
    "SmokeTest": Workflows2024._test_run,
    "Manual": Workflows2024._manual_run,
    MANUAL_WORKFLOW: Workflows2024._manual_run,
}


def _one_date(periods: Any) -> date:
    """The one business date of a test or manual run's ``Periods``."""
    ranges, _window = _periods(periods)
    if len(ranges) != 1 or ranges[0][0] != ranges[0][1]:
        raise invalid("Periods", "a test or manual run is for one business date")
    return ranges[0][0]


def _id_list(properties: Mapping[str, Any], key: str) -> list[int]:
    value = properties.get(key) or []
    if not isinstance(value, list) or not all(is_id(v) for v in value):
        raise invalid("DefaultRunProperties", f"{key} must be an array of task ids")
    return [int(v) for v in value]


def _periods(periods: Any) -> tuple[list[tuple[date, date]], tuple[str, str] | None]:
    """The business date ranges (at most 7) and the optional time window of ``Periods``."""
    ranges = periods.get("BizDates") if isinstance(periods, dict) else None
    if not isinstance(ranges, list) or not 1 <= len(ranges) <= 7:
        raise invalid("Periods", "BizDates must hold 1 to 7 date ranges")
    try:
        dates = [
            (date.fromisoformat(r["StartBizDate"]), date.fromisoformat(r["EndBizDate"]))
            for r in ranges
        ]
    except (TypeError, KeyError, ValueError):
        why = "each range needs StartBizDate and EndBizDate (yyyy-mm-dd)"
        raise invalid("Periods", why) from None
    start, end = periods.get("StartTime"), periods.get("EndTime")
    if (start is None) != (end is None):
        raise invalid("Periods", "give both StartTime and EndTime, or neither")
    if start is None or (start, end) == ("00:00:00", "23:59:59"):
        return dates, None
    return dates, (str(start)[:5], str(end)[:5])
