"""The Backend protocol over a workspace on the old DataStudio: API 2020-05-18 throughout.

DataWorks serves such a workspace only through 2020-05-18 (spec 1: the 2024 operations
answer it with empty lists). The console's records come out the same: 2020 nodes are
read into the task shape the 2024 backend maps (``Trigger``, ``RerunMode``, ...), 2020
instances straight into InstanceInfo. Where 2020 lacks an operation it is made up here,
and the approximations are named:

- Instance relatives (no instance-level op): the node's parents or children
  (GetNodeParents/GetNodeChildren) and their instances of the same business date (the
  day before or after for a cross-cycle dependency), matched as DataWorks matches
  cycles: a node that runs once a day pairs with every instance of the other; nodes with
  the same number of cycles pair cycle by cycle; otherwise an instance waits for the
  upstream cycles due since the cycle before it.
- Attempts in a list: ListInstances has no run number, so a started instance reads as
  attempt 1 (0 for a dry run or a virtual node) until it is opened (GetInstance then
  reads ListInstanceHistory); the auto reruns left come from ``TaskRerunTime``.
- A 2020 node carries no auto-rerun count or instance mode, so node details show none.
- Backfills are RunCycleDagNodes DAGs, one per business date, grouped by ``OpSeq``,
  which is the backfill id here. There is no operation listing DAGs, so the backfill
  list holds the ones this console created (its audit). Dates always run ascending.
- ListInstances pages up to 100 pages of 100 and sorts only by id, so rows are read
  whole and ordered here by cyctime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from opscenter.backends.dataworks.backend import (
    LOCAL_TYPES,
    V2020,
    DataWorksBackend,
    OutcomeUnknown,
    _moment,
    _parameters,
)
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillInfo,
    BackfillRequest,
    BackfillRunInfo,
    InstanceInfo,
    NodeInfo,
    NotFound,
    not_found,
    noun,
)

PROD = "PROD"
STATUS_2020 = {  # the 2024 status words the shared query builds, in 2020's spelling
    "NotRun": "NOT_RUN",
    "WaitTime": "WAIT_TIME",
    "WaitResource": "WAIT_RESOURCE",
    "Running": "RUNNING",
    "Failure": "FAILURE",
    "Success": "SUCCESS",
}
DAG_KINDS = {"SUPPLY_DATA": InstanceKind.BACKFILL, "MANUAL": InstanceKind.MANUAL}
KIND_WORDS = {"Normal": InstanceKind.PERIODIC, "SupplementData": InstanceKind.BACKFILL}
REPEAT_MODES = {0: "FailureAllowed", 1: "AllAllowed", 2: "AllDenied"}
SCHEDULER_TYPES = {"PAUSE": "Pause", "SKIP": "Skip"}
ACTIONS = {
    "RerunTaskInstances": "RestartInstance",
    "SetSuccessTaskInstances": "SetSuccessInstance",
    "StopTaskInstances": "StopInstance",
    "SuspendTaskInstances": "SuspendInstance",
    "ResumeTaskInstances": "ResumeInstance",
}
PAGE = 100
MAX_PAGES = 100  # ListInstances refuses a PageNumber over 100


class LegacyBackend(DataWorksBackend):
    """One DataWorks workspace on the old DataStudio (``api_version: 2020-05-18``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dag_backfill: dict[int, int] = {}  # DagId -> OpSeq

    def _call(self, action: str, params: dict[str, Any], **options: Any) -> dict[str, Any]:
        return super()._call(action, params, **{"version": V2020, **options})

    def _project_name(self) -> str:
        answer = self.client.call(
            "GetProject", {}, query={"ProjectId": self.project_id}, version=V2020
        )
        return (answer.get("Data") or {}).get("ProjectName", "")

    # -- nodes ------------------------------------------------------------------------------

    @staticmethod
    def _task_of(node: dict[str, Any]) -> dict[str, Any]:
        """A 2020 node in the 2024 task shape the shared mapping reads."""
        repeat = node.get("RepeatMode")
        return {
            "Id": int(node["NodeId"]),
            "Name": node["NodeName"],
            "Type": node.get("ProgramType", ""),
            "Owner": node.get("OwnerId", ""),
            "Description": node.get("Description", ""),
            "Priority": node.get("Priority") or 1,
            "RuntimeResource": {"ResourceGroupId": node.get("ResGroupIdentifier", "")},
            "Trigger": {
                "Cron": node.get("CronExpress", ""),
                "Recurrence": SCHEDULER_TYPES.get(node.get("SchedulerType", ""), "Normal"),
            },
            "RerunMode": REPEAT_MODES.get(int(repeat), "") if repeat not in (None, "") else "",
            "RerunInterval": node.get("RepeatInterval") or 0,
            "ScriptParameters": node.get("ParamValues") or "",
            "BaselineId": node.get("BaselineId"),
            "ModifyTime": node.get("ModifyTime"),
        }

    def _task_map(self, refresh: bool = False) -> dict[int, dict[str, Any]]:
        if refresh or not self._tasks:
            nodes = self._pages_2020(
                "ListNodes", "Nodes", {"ProjectId": self.project_id, "ProjectEnv": PROD}
            )
            self._tasks = {int(n["NodeId"]): self._task_of(n) for n in nodes}
            self._missing.clear()
        return self._tasks

    def _node_relatives(self, node_id: int, action: str) -> list[tuple[bool, dict[str, Any]]]:
        """(cross-cycle?, node) from GetNodeParents / GetNodeChildren."""
        data = self._call(action, {"NodeId": node_id, "ProjectEnv": PROD})["Data"] or {}
        return [
            (str(n.get("StepType", "0")) == "3", self._task_of(n)) for n in data.get("Nodes") or []
        ]

    def _downstream_tasks(self, task: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
        return self._node_relatives(int(task["Id"]), "GetNodeChildren")

    def get_node(self, name: str) -> NodeInfo:
        tasks = self._task_map(refresh=True)
        found = [t for t in tasks.values() if t["Name"] == name]
        if not found:
            raise not_found("node", [name], self._name)
        node_id = int(found[0]["Id"])
        key = {"NodeId": node_id, "ProjectEnv": PROD}
        detail = self._task_of(self._call("GetNode", key)["Data"])
        detail["Dependencies"] = [
            {
                "Type": "CrossCycleDependsOnOtherNode" if cross else "Normal",
                "UpstreamTaskId": parent["Id"],
            }
            for cross, parent in self._node_relatives(node_id, "GetNodeParents")
        ]
        detail["Script"] = {"Content": self._call("GetNodeCode", key).get("Data") or ""}
        names = {i: t["Name"] for i, t in tasks.items()}
        node = self._node(detail, names)
        downstreams = sorted(child["Name"] for _, child in self._downstream_tasks(detail))
        return NodeInfo(**{**node.__dict__, "downstreams": tuple(downstreams)})

    # -- instances --------------------------------------------------------------------------

    def _backfill_of(self, dag_id: Any) -> int | None:
        """The OpSeq (our backfill id) of a backfill DAG, read once per DAG."""
        if dag_id in (None, ""):
            return None
        dag_id = int(dag_id)
        if dag_id not in self._dag_backfill:
            dag = self._call("GetDag", {"DagId": dag_id, "ProjectEnv": PROD})["Data"]
            self._dag_backfill[dag_id] = int(dag["OpSeq"])
        return self._dag_backfill[dag_id]

    def _instance(self, row: dict[str, Any], run_number: int | None = None) -> InstanceInfo:
        status = Status(row["Status"])
        task_type = row.get("TaskType", "NORMAL")
        if status is Status.NOT_RUN and task_type == "PAUSE":
            status = Status.FROZEN
        kind = DAG_KINDS.get(row.get("DagType", ""), InstanceKind.PERIODIC)
        task = self._task(int(row["NodeId"]))
        dry_run = task_type.startswith("SKIP")
        if run_number is None:  # a list row: a run ran once unless it only passed through
            passed = dry_run or task.get("Type") == "VIRTUAL"
            run_number = 1 if row.get("BeginRunningTime") and not passed else 0
        return InstanceInfo(
            id=int(row["InstanceId"]),
            node_id=int(row["NodeId"]),
            node=row["NodeName"],
            node_type=LOCAL_TYPES.get(task.get("Type", ""), task.get("Type", "").lower()),
            kind=kind,
            backfill_id=self._backfill_of(row.get("DagId"))
            if kind is InstanceKind.BACKFILL
            else None,
            bizdate=self._wall(row["Bizdate"]).date(),
            cyctime=self._wall(row["CycTime"]),
            cycle=int(row.get("PeriodNumber") or 1),
            status=status,
            dry_run=dry_run,
            dry_run_reason="",
            run_number=run_number,
            max_attempts=run_number + int(row.get("TaskRerunTime") or 0),
            priority=int(row.get("Priority") or 1),
            resource_group=task.get("RuntimeResource", {}).get("ResourceGroupId", ""),
            owner=row.get("Owner", ""),
            set_success=False,
            started_at=_moment(row.get("BeginRunningTime")),
            finished_at=_moment(row.get("FinishTime")),
            retry_at=None,
        )

    def _instance_rows(self, params: dict[str, Any]) -> Iterator[tuple[InstanceInfo, int]]:
        """The shared (2024-worded) query asked of ListInstances: every page read, the
        filters 2020 lacks applied here, rows ordered by cyctime as TriggerTime would be."""
        query: dict[str, Any] = {"ProjectId": self.project_id, "ProjectEnv": PROD}
        if params.get("Bizdate") is not None:
            day = self._wall(params["Bizdate"]).date()
            query["Bizdate"] = f"{day.isoformat()} 00:00:00"
        if params.get("Owner"):
            query["Owner"] = params["Owner"]
        if params.get("TaskName"):
            query["NodeName"] = params["TaskName"]
        if params.get("Status"):
            query["Status"] = STATUS_2020[params["Status"]]
        dags = [None]
        if params.get("WorkflowInstanceId") is not None:
            dags = self._dags(int(params["WorkflowInstanceId"]))
        kind = KIND_WORDS.get(params.get("WorkflowInstanceType") or "")
        frozen_only = params.get("TriggerRecurrence") == "Pause"
        items = []
        for dag in dags:
            for row in self._list_instances({**query, "DagId": dag}):
                info = self._instance(row)
                if (kind is None or info.kind is kind) and (
                    not frozen_only or info.status is Status.FROZEN
                ):
                    items.append(info)
        items.sort(
            key=lambda i: (i.cyctime, i.id), reverse=params.get("SortBy") == "TriggerTime Desc"
        )
        for item in items:
            yield item, len(items)

    def _list_instances(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for number in range(1, MAX_PAGES + 1):
            data = self._call("ListInstances", {**query, "PageNumber": number, "PageSize": PAGE})[
                "Data"
            ]
            page = data.get("Instances") or []
            rows += page
            if not page or number * PAGE >= int(data.get("TotalCount") or 0):
                return rows
        raise ActionRefused(
            f"more than {MAX_PAGES * PAGE} instances match; narrow the list "
            "(DataWorks 2020 ListInstances reads at most 100 pages)"
        )

    def get_instance(self, instance_id: int) -> InstanceInfo:
        row = self._instance_row(instance_id)
        return self._instance(row, run_number=len(self._history(instance_id)))

    def parameters(self, instance_id: int) -> dict[str, str]:
        return _parameters(self._instance_row(instance_id).get("ParamValues") or "")

    def _instance_row(self, instance_id: int) -> dict[str, Any]:
        with self._missing_as(not_found("instance", [instance_id], self._name)):
            return self._call("GetInstance", {"InstanceId": instance_id, "ProjectEnv": PROD})[
                "Data"
            ]

    def _check_exist(self, ids: Sequence[int]) -> None:
        """2020 has no list by ids: one GetInstance each, every missing one named."""
        missing = []
        for instance_id in dict.fromkeys(ids):
            try:
                self._instance_row(instance_id)
            except NotFound:
                missing.append(instance_id)
        if missing:
            raise not_found("instance", missing, self._name)

    def _log_text(self, instance_id: int, attempt: int | None) -> str:
        """GetInstanceLog of the attempt's history row (runs in the order they began); with
        no attempt, GetInstanceLog with no history row: the log DataWorks gives the
        instance (for one that succeeded with no run, why nothing ran)."""
        key = {"InstanceId": instance_id, "ProjectEnv": PROD}
        if attempt is None:
            return self._call("GetInstanceLog", key).get("Data") or ""
        runs = self._history(instance_id)
        if not 1 <= attempt <= len(runs):
            return ""  # the run's row is gone (read_log checked it existed a moment ago)
        chosen = runs[attempt - 1]
        answer = self._call(
            "GetInstanceLog", {**key, "InstanceHistoryId": chosen["InstanceHistoryId"]}
        )
        return answer.get("Data") or ""

    def _neighbours(self, instance_id: int, direction: str) -> list[tuple[bool, InstanceInfo]]:
        key = {"InstanceId": instance_id, "ProjectEnv": PROD}
        item = self._instance(self._call("GetInstance", key)["Data"])
        action = "GetNodeChildren" if direction == "down" else "GetNodeParents"
        shift = 1 if direction == "down" else -1
        found: list[tuple[bool, InstanceInfo]] = []
        mine: list[InstanceInfo] | None = None  # the node's own cycles, read when needed
        for cross, other in self._node_relatives(item.node_id, action):
            day = item.bizdate + timedelta(days=shift) if cross else item.bizdate
            theirs = self._node_instances(int(other["Id"]), day, item.kind, item.backfill_id)
            if len(theirs) > 1 and mine is None:
                mine = self._node_instances(item.node_id, item.bizdate, item.kind, item.backfill_id)
            for candidate in theirs:
                own = mine or [item]
                parent, parents, child, children = (
                    (item, own, candidate, theirs)
                    if direction == "down"
                    else (candidate, theirs, item, own)
                )
                if cross or _pairs(parent, parents, child, children):
                    found.append((cross, candidate))
        return found

    def _node_instances(
        self, node_id: int, bizdate: date, kind: InstanceKind, backfill_id: int | None
    ) -> list[InstanceInfo]:
        query = {
            "ProjectId": self.project_id,
            "ProjectEnv": PROD,
            "NodeId": node_id,
            "Bizdate": f"{bizdate.isoformat()} 00:00:00",
        }
        items = [self._instance(r) for r in self._list_instances(query)]
        return sorted(
            (i for i in items if i.kind is kind and i.backfill_id == backfill_id),
            key=lambda i: i.cyctime,
        )

    # -- acting -----------------------------------------------------------------------------

    def _send(self, api: str, verb: str, ids: Sequence[int]) -> dict[int, str | None]:
        """One call per instance: 2020 has no batch operations."""
        outcome: dict[int, str | None] = {}
        for instance_id in ids:
            try:
                answer = self._call(ACTIONS[api], {"InstanceId": instance_id, "ProjectEnv": PROD})
                outcome[instance_id] = None if answer.get("Data") else "DataWorks answered false"
            except OutcomeUnknown:  # no answer: it may have been done, so stop and say so
                raise
            except ActionRefused as refused:
                outcome[instance_id] = refused.reason
        return outcome

    def _set_recurrence(self, node: str, recurrence: str) -> ActionResult:
        """UpdateNodeRunMode: SchedulerType 2 freezes, 0 unfreezes."""
        node_id = self.get_node(node).id
        mode = 2 if recurrence == "Pause" else 0
        self._call(
            "UpdateNodeRunMode", {"NodeId": node_id, "ProjectEnv": PROD, "SchedulerType": mode}
        )
        self._tasks.clear()
        action, verb = ("freeze", "frozen") if mode == 2 else ("unfreeze", "unfrozen")
        return ActionResult(f"{action} node", [node_id], f"node {node} {verb} in DataWorks")

    def _undeploy(self, node: str) -> ActionResult:
        node_id = self.get_node(node).id
        answer = self._call("OfflineNode", {"NodeId": node_id, "ProjectId": self.project_id})
        if str(answer.get("Success")).lower() != "true":
            raise ActionRefused(f"DataWorks did not undeploy {node}: OfflineNode answered false")
        self._tasks.clear()
        return ActionResult("undeploy", [node_id], f"node {node} undeployed in DataWorks")

    def _create_backfill(self, request: BackfillRequest) -> ActionResult:
        """RunCycleDagNodes: the root, the chosen nodes (or every same-cycle descendant),
        the excluded ones as dry runs; one DAG per business date."""
        if request.descending:
            raise ActionRefused("DataWorks 2020 backfills run their dates in ascending order only")
        tasks = self._task_map(refresh=True)
        ids = {t["Name"]: int(t["Id"]) for t in tasks.values()}
        missing = [n for n in (request.node, *request.include, *request.exclude) if n not in ids]
        if missing:
            raise NotFound(f"no deployed node {missing[0]!r} in workspace {self._name}")
        chosen = [request.node, *request.include]
        if request.downstream:
            parents: dict[str, set[str]] = {}
            root = next(t for t in tasks.values() if t["Name"] == request.node)
            self._walk_down(root, parents)
            chosen += sorted(parents)
        begin, end = (
            (f"{request.window[0]}:00", f"{request.window[1]}:00")
            if request.window
            else ("00:00:00", "23:59:59")
        )
        name = request.name or f"backfill {request.node} {request.start}..{request.end}"
        params: dict[str, Any] = {
            "Name": name,
            "ProjectEnv": PROD,
            "RootNodeId": ids[request.node],
            "IncludeNodeIds": ",".join(str(ids[n]) for n in dict.fromkeys(chosen)),
            "ExcludeNodeIds": ",".join(str(ids[n]) for n in request.exclude) or None,
            "StartBizDate": f"{request.start.isoformat()} 00:00:00",
            "EndBizDate": f"{request.end.isoformat()} 00:00:00",
            "Parallelism": request.parallel > 1,
            "BizBeginTime": begin,
            "BizEndTime": end,
        }
        if request.parallel > 1:
            params["ConcurrentRuns"] = request.parallel
        dags = [int(d) for d in self._call("RunCycleDagNodes", params).get("Data") or []]
        if not dags:
            raise ActionRefused("DataWorks created no backfill DAG")
        backfill_id = self._backfill_of(dags[0])
        return ActionResult(
            "backfill",
            dags,
            f"backfill {name!r} created in DataWorks as {noun(len(dags), 'DAG')} "
            f"{', '.join(f'#{d}' for d in dags)} (backfill #{backfill_id})",
            extra={"backfill_id": backfill_id},
        )

    # -- backfills --------------------------------------------------------------------------

    def _dag_rows(self, backfill_id: int) -> list[dict[str, Any]]:
        data = self._call("ListDags", {"OpSeq": backfill_id, "ProjectEnv": PROD})["Data"] or {}
        rows = data.get("Dags") or []
        if not rows:
            raise not_found("backfill", [backfill_id], self._name)
        for row in rows:
            self._dag_backfill[int(row["DagId"])] = backfill_id
        return rows

    def _dags(self, backfill_id: int) -> list[int]:
        return [int(r["DagId"]) for r in self._dag_rows(backfill_id)]

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]:
        """The backfills this console created (2020 has no operation listing them)."""
        return [self.get_backfill(i) for i in sorted(set(self._audited_backfills()))[::-1][:limit]]

    def _audited_backfills(self) -> list[int]:
        entries = self.audit_log(limit=10_000)
        return [
            int(found.group(1))
            for e in entries
            if e.action == "backfill" and e.outcome == "ok"
            if (found := re.search(r"\(backfill #(\d+)\)", e.detail))
        ]

    def get_backfill(self, backfill_id: int) -> BackfillInfo:
        dags = sorted(self._dag_rows(backfill_id), key=lambda r: int(r.get("Bizdate") or 0))
        runs, nodes = [], set()
        for position, dag in enumerate(dags):
            items = [
                self._instance(r)
                for r in self._list_instances(
                    {"ProjectId": self.project_id, "ProjectEnv": PROD, "DagId": dag["DagId"]}
                )
            ]
            nodes.update(i.node for i in items)
            day = self._wall(dag["Bizdate"]).date()
            status = self._run_status(items) if items else str(dag.get("Status", "")).upper()
            runs.append(BackfillRunInfo(day, position, status, self._counts(day, items).counts))
        statuses = {r.status for r in runs}
        overall = next((s for s in ("FAILURE", "RUNNING") if s in statuses), "SUCCESS")
        started = [m for d in dags if (m := _moment(d.get("StartTime")))]
        return BackfillInfo(
            id=backfill_id,
            name=dags[0].get("Name", ""),
            created_by=dags[0].get("CreateUser", ""),
            created_at=min(started) if started else datetime.min,
            nodes=tuple(sorted(nodes)),
            parallel=1,
            descending=False,
            window=None,
            status=overall if runs else "CREATED",
            runs=runs,
        )


def _pairs(
    parent: InstanceInfo,
    parents: list[InstanceInfo],
    child: InstanceInfo,
    children: list[InstanceInfo],
) -> bool:
    """Whether ``child`` waits for ``parent`` (same-cycle dependency, one business date)."""
    if len(parents) <= 1 or len(children) <= 1:
        return True
    if len(parents) == len(children):
        return parent.cycle == child.cycle
    earlier = [c.cyctime for c in children if c.cyctime < child.cyctime]
    since = max(earlier) if earlier else None
    return parent.cyctime <= child.cyctime and (since is None or parent.cyctime > since)
