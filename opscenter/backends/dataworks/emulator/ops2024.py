"""The 2024-05-18 operations: deployed tasks, Data Studio nodes, task instances, their
actions and emergency operations, and the workspace (workflow instances and manual
workflows are in workflows2024.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from opscenter.backends.dataworks.emulator.base import Group, required_int
from opscenter.backends.dataworks.emulator.mapping import (
    STATUS_2024,
    WORKFLOW_TYPES,
    node_recurrence,
    paged,
    parameter_text,
)
from opscenter.backends.dataworks.emulator.wire import (
    V2024,
    Params,
    invalid,
    is_id,
)
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionResult,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
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
        "GetProject",
    )

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
