"""The 2020-05-18 operations on deployed nodes and their instances: lists, details, logs,
the single-instance actions, run mode and undeploy, the dashboard counts, and the
workspace. Every answer carries ``Success`` and ``HttpStatusCode`` beside its data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opscenter.backends.dataworks.emulator.base import (
    Group,
    legacy,
    legacy_day,
    prod_env,
    required_day,
    required_int,
)
from opscenter.backends.dataworks.emulator.mapping import (
    DAG_ID_BASE,
    compact,
    dag_parts,
    ms,
    paged,
    scheduler_type,
    task_type,
)
from opscenter.backends.dataworks.emulator.wire import V2020, ApiFailure, Params, invalid
from opscenter.domain.model import DependencyType, Status
from opscenter.domain.records import (
    ActionResult,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
    NodeInfo,
    NotFound,
)

SCHEDULER_TYPES = ("NORMAL", "MANUAL", "PAUSE", "SKIP")


class Ops2020(Group):
    """Nodes, instances and the workspace in the 2020-05-18 shapes."""

    VERSION = V2020
    ACTIONS = (
        "ListNodes",
        "GetNode",
        "GetNodeParents",
        "GetNodeChildren",
        "GetNodeCode",
        "UpdateNodeRunMode",
        "OfflineNode",
        "ListInstances",
        "GetInstance",
        "GetInstanceLog",
        "ListInstanceHistory",
        "RestartInstance",
        "SetSuccessInstance",
        "StopInstance",
        "SuspendInstance",
        "ResumeInstance",
        "GetInstanceStatusCount",
        "TopTenErrorTimesInstance",
        "GetProject",
    )

    # -- nodes --------------------------------------------------------------------------------

    def ListNodes(self, params: Params) -> dict[str, Any]:
        """Deployed nodes by id. Only a manually triggered node belongs to a business flow
        (its manual workflow, ``BizName``); ``NodeName`` is a substring, as in Operation
        Center's search box."""
        self._project(params)
        prod_env(params)
        number, size = params.paging()
        name, owner = params.text("NodeName").lower(), params.text("Owner")
        program, kind = params.text("ProgramType"), params.text("SchedulerType")
        if kind and kind not in SCHEDULER_TYPES:
            raise invalid("SchedulerType", f"{kind!r} is not one of {', '.join(SCHEDULER_TYPES)}")
        baselines = self._baselines_of_nodes()
        flow = params.text("BizName")
        nodes = [
            self.map.node_2020(n, baselines.get(n.name))
            for n in sorted(self._nodes(), key=lambda n: n.id)
            if (not flow or n.workflow == flow)
            and (not name or name in n.name.lower())
            and (not owner or n.owner == owner)
            and (not program or task_type(n.type) == program)
            and (not kind or scheduler_type(n) == kind)
        ]
        return legacy(paged(nodes, number, size, "Nodes"))

    def GetNode(self, params: Params) -> dict[str, Any]:
        prod_env(params)
        node = self._node(required_int(params, "NodeId"))
        data = self.map.node_2020(node, self._baselines_of_nodes().get(node.name))
        # GetNode's Repeatability is the string "true"/"false" (ListNodes': a bool)
        data["Repeatability"] = str(data["Repeatability"]).lower()
        return legacy(data)

    def GetNodeParents(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, upward=True)

    def GetNodeChildren(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, upward=False)

    def _relatives(self, params: Params, *, upward: bool) -> dict[str, Any]:
        """Same-cycle relatives (StepType "0") first, then cross-cycle ones ("3")."""
        prod_env(params)
        node = self._node(required_int(params, "NodeId"))
        nodes = {n.name: n for n in self._nodes()}
        found = {
            (up if upward else down, cross)
            for up, down, cross in _edges(nodes.values())
            if (down if upward else up) == node.name
        }
        baselines = self._baselines_of_nodes()
        rows = [
            self.map.relative_2020(nodes[name], baselines.get(name), cross)
            for name, cross in sorted(found, key=lambda pair: (pair[1], pair[0]))
        ]
        return legacy({"Nodes": rows})

    def GetNodeCode(self, params: Params) -> dict[str, Any]:
        prod_env(params)
        return legacy(self._node(required_int(params, "NodeId")).code)

    def UpdateNodeRunMode(self, params: Params) -> dict[str, Any]:
        node = self._node(required_int(params, "NodeId"))
        mode = params.int("SchedulerType", required=True)
        if mode == 2:
            self.backend.freeze_node(node.name)
        elif mode == 0:
            self.backend.unfreeze_node(node.name)
        else:
            raise invalid("SchedulerType", "2 freezes, 0 unfreezes")
        return {"Success": True, "HttpStatusCode": 200}

    def OfflineNode(self, params: Params) -> dict[str, Any]:
        """Undeploy at once; ``Success`` is the string ``"true"``, as in the SDK's model."""
        self._project(params)
        node = self._node(required_int(params, "NodeId"))
        self.backend.undeploy(node.name)
        return {"Success": "true", "HttpStatusCode": 200}

    def _baselines_of_nodes(self) -> dict[str, int]:
        """Node name -> the baseline (lowest id) that protects it."""
        baselines = reversed(self.backend.list_baseline_definitions())  # the lowest id last
        return {name: b.id for b in baselines for name in b.nodes}

    # -- instances ----------------------------------------------------------------------------

    def ListInstances(self, params: Params) -> dict[str, Any]:
        """``DagId`` narrows to one business date of one backfill (see mapping.dag_id)."""
        self._project(params)
        number, size = params.paging()
        status = params.text("Status")
        statuses: tuple[Status, ...] = (
            (Status.NOT_RUN, Status.FROZEN) if status == "NOT_RUN" else ()
        )
        if status and not statuses:
            statuses = (_enum(Status, status, "Status"),)
        node_id = params.int("NodeId")
        bizdate = legacy_day(params.text("Bizdate"), "Bizdate")
        backfill_id = None
        dag = params.int("DagId")
        if dag is not None and dag < DAG_ID_BASE:  # a test or manual run's DAG
            rows = [self.map.instance_2020(i) for i in self._run_instances(dag)]
            return legacy(paged(rows, number, size, "Instances"))
        if dag is not None:
            try:
                backfill_id, dag_day = dag_parts(dag)
            except ValueError as exc:
                raise invalid("DagId", str(exc)) from None
            if bizdate not in (None, dag_day):
                return legacy(paged([], number, size, "Instances"))
            bizdate = dag_day
        flt = InstanceFilter(
            bizdate=bizdate,
            statuses=statuses,
            owner=params.text("Owner"),
            backfill_id=backfill_id,
            text=params.text("NodeName"),
            limit=500,
        )
        items = [
            self.map.instance_2020(i)
            for i in self._all_instances(flt)
            if node_id is None or i.node_id == node_id
        ]
        items.sort(key=lambda i: i["InstanceId"], reverse=True)
        return legacy(paged(items, number, size, "Instances"))

    def _run_instances(self, dag: int) -> list[InstanceInfo]:
        """The instances of a test or manual run's DAG (see mapping.Mapper.record_run)."""
        found = []
        for instance_id in self.map.run_members(dag):
            try:
                item = self.backend.get_instance(instance_id)
            except NotFound:
                continue
            if self.map.run_of(item) == dag:
                found.append(item)
        return found

    def GetInstance(self, params: Params) -> dict[str, Any]:
        return legacy(self.map.instance_2020(self._instance(params, "InstanceId")))

    def GetInstanceLog(self, params: Params) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        return legacy(self._log(item.id, params.int("InstanceHistoryId")))

    def ListInstanceHistory(self, params: Params) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        rows = [
            compact(
                {
                    "InstanceId": item.id,
                    "InstanceHistoryId": a.number,
                    "NodeId": item.node_id,
                    "NodeName": item.node,
                    "Status": a.status.value,
                    "BeginRunningTime": ms(a.started_at),
                    "FinishTime": ms(a.finished_at),
                    "ErrorMessage": a.reason or None,
                }
            )
            for a in self.backend.attempts(item.id)
        ]
        return {"Success": True, "HttpStatusCode": 200, "Instances": rows}

    def _act(self, params: Params, act: Callable[[list[int]], ActionResult]) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        act([item.id])
        return legacy(True)

    def RestartInstance(self, params: Params) -> dict[str, Any]:
        return self._act(params, self.backend.rerun)

    def SetSuccessInstance(self, params: Params) -> dict[str, Any]:
        return self._act(params, self.backend.set_success)

    def StopInstance(self, params: Params) -> dict[str, Any]:
        return self._act(params, self.backend.stop)

    def SuspendInstance(self, params: Params) -> dict[str, Any]:
        return self._act(params, self.backend.freeze)

    def ResumeInstance(self, params: Params) -> dict[str, Any]:
        return self._act(params, self.backend.unfreeze)

    def GetInstanceStatusCount(self, params: Params) -> dict[str, Any]:
        self._project(params)
        counts = self.backend.status_counts(required_day(params, "BizDate")).counts
        return {
            "Success": True,
            "HttpStatusCode": 200,
            "StatusCount": {
                "TotalCount": sum(counts.values()),
                "NotRunCount": counts[Status.NOT_RUN] + counts[Status.FROZEN],
                "WaitTimeCount": counts[Status.WAIT_TIME],
                "WaitResCount": counts[Status.WAIT_RESOURCE],
                "RunningCount": counts[Status.RUNNING],
                "SuccessCount": counts[Status.SUCCESS],
                "FailureCount": counts[Status.FAILURE],
            },
        }

    def TopTenErrorTimesInstance(self, params: Params) -> dict[str, Any]:
        """Nodes by failed runs over the last 30 days (the local dashboard's ranking)."""
        self._project(params)
        today = self.backend.now().astimezone(self.map.zone).date()
        ids = {n.name: n.id for n in self.backend.list_nodes(NodeFilter(include_undeployed=True))}
        rank = [
            compact(
                {
                    "NodeId": ids.get(e.node),
                    "NodeName": e.node,
                    "Owner": e.owner,
                    "Count": e.failures,
                }
            )
            for e in self.backend.dashboard(today).top_errors
        ]
        return {"Success": True, "HttpStatusCode": 200, "InstanceErrorRank": {"ErrorRank": rank}}

    # -- the workspace ------------------------------------------------------------------------

    def GetProject(self, params: Params) -> dict[str, Any]:
        """By ``ProjectId`` or ``ProjectIdentifier`` (the workspace name); a standard-mode
        workspace (ProjectMode 3) with a production environment only, Status 0 (AVAILABLE)."""
        name = self.backend.workspace().name
        identifier = params.text("ProjectIdentifier")
        if params.text("ProjectId") or not identifier:
            self._project(params)
        elif identifier != name:
            raise ApiFailure(
                403, "Forbidden.Access", f"No access to project {identifier}: not served here."
            )
        project = {
            "ProjectId": self.map.project_id,
            "ProjectIdentifier": name,
            "ProjectName": name,
            "Status": 0,
            "ProjectMode": 3,
            "EnvTypes": ["PROD"],
        }
        return legacy(project)


def _enum(kind: type[Status], text: str, name: str) -> Status:
    try:
        return kind(text)
    except ValueError:
        raise invalid(name, f"{text!r} is not one of {', '.join(kind.__members__)}") from None


def _edges(nodes: Iterable[NodeInfo]) -> list[tuple[str, str, bool]]:
    """(upstream, downstream, cross-cycle) between deployed nodes. A node depending on its
    children's previous cycle has each child as a cross-cycle parent."""
    nodes = list(nodes)
    names = {n.name for n in nodes}
    edges: list[tuple[str, str, bool]] = []
    for node in nodes:
        edges += [(u, node.name, False) for u in node.upstreams]
        for kind, other in node.cross_cycle:
            if kind == DependencyType.CROSS_CYCLE_SELF.value:
                edges.append((node.name, node.name, True))
            elif kind == DependencyType.CROSS_CYCLE_OTHER.value:
                edges.append((other, node.name, True))
            else:
                edges += [(child, node.name, True) for child in node.downstreams]
    return [(u, d, cross) for u, d, cross in edges if u in names and d in names]
