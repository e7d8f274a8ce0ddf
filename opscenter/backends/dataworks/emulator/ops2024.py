"""The 2024-05-18 operations: deployed tasks, Data Studio nodes, task instances, their
actions, backfill as SupplementData workflow instances, and the workspace."""

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
    STATUS_2024,
    WORKFLOW_TYPES,
    Mapper,
    node_recurrence,
    paged,
    parameter_text,
    workflow_id,
)
from opscenter.backends.dataworks.emulator.wire import (
    V2024,
    ApiFailure,
    Params,
    invalid,
    is_id,
)
from opscenter.backends.dataworks.vocabulary import MANUAL_TRIGGER, MANUAL_WORKFLOW, PROD_2024
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.preconditions import STOP_FROM
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillRequest,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
    NodeInfo,
)

STUDIO_SCENES = ("DataworksProject", "DataworksManualWorkflow", "DataworksManualTask")
RECURRENCES = ("Normal", "Pause", "Skip")


class Ops2024(Group):
    """The 2024-05-18 operations, over one LocalBackend."""

    VERSION = V2024
    ACTIONS = (
        "ListTasks",
        "GetTask",
        "ListUpstreamTasks",
        "ListDownstreamTasks",
        "UpdateTask",
        "BatchUpdateTasks",
        "ListNodes",
        "ListTaskInstances",
        "GetTaskInstance",
        "GetTaskInstanceLog",
        "ListUpstreamTaskInstances",
        "ListDownstreamTaskInstances",
        "RerunTaskInstances",
        "SetSuccessTaskInstances",
        "StopTaskInstances",
        "SuspendTaskInstances",
        "ResumeTaskInstances",
        "RemoveTaskInstanceDependencies",
        "UpdateTaskInstances",
        "CreateWorkflowInstances",
        "GetCreateWorkflowInstancesResult",
        "ListWorkflowInstances",
        "GetWorkflowInstance",
        "StopWorkflowInstances",
        "ListWorkflows",
        "GetWorkflow",
        "GetProject",
    )

    def __init__(self, backend: LocalBackend, mapper: Mapper) -> None:
        super().__init__(backend, mapper)
        self._operations: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- tasks --------------------------------------------------------------------------------

    def ListTasks(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        name, owner, kind = params.text("Name"), params.text("Owner"), params.text("TaskType")
        recurrence, ids = params.text("TriggerRecurrence"), params.ids("Ids")
        tasks = [
            self.map.task(n)
            for n in self._nodes()
            if (not name or name.lower() in n.name.lower())
            and (not owner or n.owner == owner)
            and (not ids or n.id in ids)
        ]
        tasks = [
            t
            for t in tasks
            if (not kind or t["Type"] == kind)
            and (not recurrence or t["Trigger"]["Recurrence"] == recurrence)
        ]
        tasks = _sorted(tasks, params.text("SortBy", default="Id Desc"), "SortBy")
        return {"PagingInfo": paged(tasks, number, size, "Tasks")}

    def GetTask(self, params: Params) -> dict[str, Any]:
        node = self._node(required_int(params, "Id"))
        ids = {n.name: n.id for n in self.backend.list_nodes(NodeFilter(include_undeployed=True))}
        return {"Task": self.map.task_detail(node, ids)}

    def _neighbour_tasks(self, params: Params, key: str, upward: bool) -> dict[str, Any]:
        node = self._node(required_int(params, "Id"))
        number, size = params.paging()
        by_name = {n.name: n for n in self._nodes()}
        names = node.upstreams if upward else node.downstreams
        rows = [
            {"DependencyType": "Normal", "Task": self.map.task(by_name[n])}
            for n in names
            if n in by_name
        ]
        return {"PagingInfo": paged(rows, number, size, key)}

    def ListUpstreamTasks(self, params: Params) -> dict[str, Any]:
        return self._neighbour_tasks(params, "UpstreamTasks", upward=True)

    def ListDownstreamTasks(self, params: Params) -> dict[str, Any]:
        return self._neighbour_tasks(params, "DownstreamTasks", upward=False)

    def UpdateTask(self, params: Params) -> dict[str, Any]:
        task_id = required_int(params, "Id")
        fields = {k: v for k, v in params.values.items() if k in _UPDATABLE_TASK_FIELDS}
        fields["Trigger"] = params.json("Trigger", default={})
        self._set_recurrence(task_id, fields)
        return {"Success": True}

    def BatchUpdateTasks(self, params: Params) -> dict[str, Any]:
        tasks = params.json("Tasks", required=True)
        if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and is_id(t.get("Id")) for t in tasks
        ):
            raise invalid("Tasks", "expected a JSON array of objects with an Id")
        info = {
            str(t["Id"]): self._outcome(partial(self._set_recurrence, int(t["Id"]), t))
            for t in tasks
        }
        return {"SuccessInfo": info}

    def _set_recurrence(self, task_id: int, fields: Mapping[str, Any]) -> ActionResult:
        """Only ``Trigger.Recurrence`` can change here: Pause freezes, Normal unfreezes. An
        empty ``Tags`` changes nothing (the official SDK sends one with every task)."""
        unchanged = {"Id", "EnvType", "Trigger"} | ({"Tags"} if fields.get("Tags") == [] else set())
        others = sorted(set(fields) - unchanged)
        trigger = fields.get("Trigger") or {}
        if others or not isinstance(trigger, dict) or set(trigger) - _KEPT_TRIGGER_FIELDS:
            raise invalid("Trigger", "the emulator only changes Trigger.Recurrence")
        node = self._node(task_id)
        recurrence = trigger.get("Recurrence")
        if recurrence == "Pause":
            return self.backend.freeze_node(node.name)
        if recurrence == "Normal":
            return self.backend.unfreeze_node(node.name)
        raise invalid("Trigger", "Recurrence must be Pause or Normal")

    # -- Data Studio nodes --------------------------------------------------------------------

    def ListNodes(self, params: Params) -> dict[str, Any]:
        """Every node of the workspace, undeployed ones too: Data Studio keeps a node (the
        development object) when its task is undeployed. Paging numbers are strings."""
        self._project(params)
        number, size = params.paging()
        scene, name = params.text("Scene"), params.text("Name")
        wanted, rerun = params.text("Recurrence"), params.text("RerunMode")
        if scene and scene not in STUDIO_SCENES:
            raise invalid("Scene", f"{scene!r} is not one of {', '.join(STUDIO_SCENES)}")
        if wanted and wanted not in RECURRENCES:
            raise invalid("Recurrence", f"{wanted!r} is not one of {', '.join(RECURRENCES)}")
        nodes = [
            n
            for n in self.backend.list_nodes(NodeFilter(include_undeployed=True))
            if scene in ("", "DataworksProject")
            and (not name or name.lower() in n.name.lower())
            and (not wanted or node_recurrence(n) == wanted)
            and (not rerun or n.rerun_mode == rerun)
        ]
        rows = [self.map.studio_node(n) for n in sorted(nodes, key=lambda n: n.id)]
        found = paged(rows, number, size, "Nodes")
        for key in ("PageNumber", "PageSize", "TotalCount"):
            found[key] = str(found[key])
        return {"PagingInfo": found}

    # -- task instances -----------------------------------------------------------------------

    def ListTaskInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging(max_size=500)
        ids = set(params.ids("Ids"))
        if (one := params.int("Id")) is not None:
            ids.add(one)
        flt, keep = self._instance_filter(params, ids)
        items = [self.map.task_instance(i) for i in self._all_instances(flt) if keep(i)]
        items = _sorted(items, params.text("SortBy", default="Id Desc"), "SortBy", _TIME_SORTS)
        return {"PagingInfo": paged(items, number, size, "TaskInstances")}

    def _instance_filter(
        self, params: Params, ids: set[int]
    ) -> tuple[InstanceFilter, Callable[[InstanceInfo], bool]]:
        """What the store filters (InstanceFilter) and what is checked row by row."""
        workflow_instance = params.int("WorkflowInstanceId")
        bizdate_ms = params.int("Bizdate", required=not ids and workflow_instance is None)
        kind = _kind(params.text("WorkflowInstanceType"))
        statuses = _statuses_2024(params.text("Status"))
        task_ids = set(params.ids("TaskIds"))
        if (task_id := params.int("TaskId")) is not None:
            task_ids.add(task_id)
        run = kind in (InstanceKind.TEST, InstanceKind.MANUAL) and workflow_instance is not None
        if run and workflow_instance is not None:  # a test or manual run: its instances
            ids |= set(self.map.run_members(workflow_instance))
        flt = InstanceFilter(
            bizdate=self.map.bizdate_of(bizdate_ms) if bizdate_ms is not None else None,
            statuses=statuses,
            owner=params.text("Owner"),
            kind=kind,
            backfill_id=None if run else workflow_instance,
            text=params.text("TaskName"),
            limit=500,
        )
        task_type_name, recurrence = params.text("TaskType"), params.text("TriggerRecurrence")

        def keep(item: InstanceInfo) -> bool:
            mapped = self.map.task_instance(item)
            return (
                (not ids or item.id in ids)
                and (not task_ids or item.node_id in task_ids)
                and (not task_type_name or mapped["TaskType"] == task_type_name)
                and (not recurrence or mapped["TriggerRecurrence"] == recurrence)
            )

        return flt, keep

    def GetTaskInstance(self, params: Params) -> dict[str, Any]:
        item = self._instance(params)
        detail = {
            **self.map.task_instance(item),
            "Script": {"Parameters": parameter_text(self.backend.parameters(item.id))},
            "Tags": [],
        }
        return {"TaskInstance": detail}

    def GetTaskInstanceLog(self, params: Params) -> dict[str, Any]:
        item = self._instance(params)
        run = params.int("RunNumber")
        if run is not None and run < 1:
            raise invalid("RunNumber", "it must be 1 or more")
        return {"TaskInstanceLog": self._log(item.id, run)}

    def _relatives(self, params: Params, key: str, direction: str) -> dict[str, Any]:
        item = self._instance(params)
        number, size = params.paging()
        rows = [
            {
                "DependencyType": "CrossCycle" if r.cross_cycle else "Normal",
                "TaskInstance": self.map.task_instance(r.instance),
            }
            for r in self.backend.relatives(item.id, direction, levels=1)
            if r.removed is None  # a removed dependency is no longer one DataWorks lists
        ]
        return {"PagingInfo": paged(rows, number, size, key)}

    def ListUpstreamTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, "UpstreamTaskInstances", "up")

    def ListDownstreamTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, "DownstreamTaskInstances", "down")

    def _batch(self, params: Params, act: Callable[[list[int]], ActionResult]) -> dict[str, Any]:
        """One action per id, so a refusal is that id's failure and the rest still happen."""
        ids = params.ids("Ids", required=True)
        return {"SuccessInfo": {str(i): self._outcome(partial(act, [i])) for i in ids}}

    @staticmethod
    def _outcome(act: Callable[[], ActionResult]) -> dict[str, Any]:
        try:
            result = act()
        except ActionRefused as refused:
            return {"Success": False, "Message": refused.reason}
        except ApiFailure as failure:
            return {"Success": False, "Message": failure.message}
        return {"Success": True, "Message": result.message}

    def RerunTaskInstances(self, params: Params) -> dict[str, Any]:
        params.bool("UseLatestConfig")
        return self._batch(params, self.backend.rerun)

    def SetSuccessTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.set_success)

    def StopTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.stop)

    def SuspendTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.freeze)

    def ResumeTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.unfreeze)

    # -- emergency operations ---------------------------------------------------------------

    def RemoveTaskInstanceDependencies(self, params: Params) -> dict[str, Any]:
        """The chosen upstream instances (none given: every one not SUCCESS) removed."""
        instance_id = required_int(params, "Id")
        upstream = params.ids("UpstreamTaskInstanceIds") or None
        self.backend.remove_upstream(instance_id, upstream, params.text("Comment"))
        return {"Success": True}

    def UpdateTaskInstances(self, params: Params) -> dict[str, Any]:
        """Each instance's change on its own, so a refusal is that id's failure."""
        changes = params.json("TaskInstances", required=True)
        if not isinstance(changes, list) or not all(
            isinstance(c, dict) and is_id(c.get("Id")) for c in changes
        ):
            raise invalid("TaskInstances", "expected a JSON array of objects with an Id")
        for change in changes:
            if not isinstance(change.get("Priority", 1), int) or change.get("DataSource"):
                raise invalid("TaskInstances", "Priority is an integer; DataSource is not kept")
        comment = params.text("Comment")
        info = {
            str(c["Id"]): self._outcome(
                partial(
                    self.backend.update_instances,
                    [int(c["Id"])],
                    priority=c.get("Priority"),
                    resource_group=c.get("RuntimeResource") or None,
                    comment=comment,
                )
            )
            for c in changes
        }
        return {"SuccessInfo": info}

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

    # -- the workspace ------------------------------------------------------------------------

    def GetProject(self, params: Params) -> dict[str, Any]:
        """The served workspace; it has no development environment (``ProjectEnv`` Prod)."""
        self._project(params, "Id")
        workspace = self.backend.workspace()
        project = {
            "Id": self.map.project_id,
            "Name": workspace.name,
            "DisplayName": workspace.name,
            "Owner": workspace.owner,
            "Status": "Available",
            "DevEnvironmentEnabled": False,
        }
        return {"Project": project}


_UPDATABLE_TASK_FIELDS = {
    "Id",
    "EnvType",
    "Owner",
    "Name",
    "RerunMode",
    "RerunTimes",
    "RerunInterval",
    "Timeout",
    "InstanceMode",
    "RuntimeResource",
    "Script",
    "DataSource",
    "Dependencies",
    "Inputs",
    "Outputs",
    "Tags",
    "Description",
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
# A client sends the full trigger read from GetTask (spec 3.1); only Recurrence may differ.
_KEPT_TRIGGER_FIELDS = {"Type", "Cron", "CycleType", "Recurrence", "StartTime", "EndTime"}
_TIME_SORTS = {
    "TriggerTime": "TriggerTime",
    "StartedTime": "StartedTime",
    "FinishedTime": "FinishedTime",
    "CreateTime": "TriggerTime",
    "Id": "Id",
}


def _sorted(
    rows: list[dict[str, Any]], sort_by: str, name: str, fields: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """``<Field> Asc|Desc`` as the 2024 list operations take it; missing values sort first."""
    fields = fields or {"Id": "Id", "CreateTime": "CreateTime", "ModifyTime": "ModifyTime"}
    column, _, direction = sort_by.partition(" ")
    if column not in fields or direction not in ("Asc", "Desc", ""):
        raise invalid(name, f"{sort_by!r} is not one of {', '.join(fields)} + Asc/Desc")
    key = fields[column]
    return sorted(rows, key=lambda r: (r.get(key) or 0, r.get("Id", 0)), reverse=direction != "Asc")


def _statuses_2024(text: str) -> tuple[Status, ...]:
    if not text:
        return ()
    found = tuple(s for s, word in STATUS_2024.items() if word == text)
    if not found:
        raise invalid("Status", f"{text!r} is not a task instance status")
    return found


def _kind(text: str) -> InstanceKind | None:
    if not text:
        return None
    for kind, word in WORKFLOW_TYPES.items():
        if word == text:
            return kind
    raise invalid("WorkflowInstanceType", f"{text!r} is not a workflow instance type")


RUNS: dict[str, Callable[[Ops2024, Params], dict[str, Any]]] = {
    "SmokeTest": Ops2024._test_run,
    "Manual": Ops2024._manual_run,
    MANUAL_WORKFLOW: Ops2024._manual_run,
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
