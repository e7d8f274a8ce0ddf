"""A workspace on the old DataStudio through API 2020-05-18 throughout.

DataWorks serves such a workspace only through 2020-05-18 (spec 1: the 2024 operations
answer it with empty lists). The console's records come out the same: 2020 nodes are
read into the task shape the 2024 records use (``Trigger``, ``RerunMode``, ...), 2020
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
- Removing an instance's upstream dependencies and changing an instance's priority or
  resource group have no 2020 operation (RemoveTaskInstanceDependencies and
  UpdateTaskInstances are 2024's only): refused with that reason. A test run is a
  RunSmokeTest DAG, a manual run a RunManualDagNodes DAG of the workflow (a business flow
  of manually triggered nodes, ``BizName``); neither takes a comment, which the local
  audit keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import InstanceQuery, ManualWorkflow, Site
from opscenter.backends.dataworks.backfills import run_status, walk_down
from opscenter.backends.dataworks.calls import (
    V2020,
    Calls,
    OutcomeUnknown,
    missing_as,
    unavailable,
)
from opscenter.backends.dataworks.tasks import TaskMap
from opscenter.backends.dataworks.vocabulary import (
    DAG_STATUSES,
    NODE_RUN_MODES,
    PROD_2020,
    STATUSES_2020,
    STEP_TYPES,
)
from opscenter.domain.model import InstanceKind, Status
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

ACTIONS = {
    "rerun": "RestartInstance",
    "set success": "SetSuccessInstance",
    "stop": "StopInstance",
    "freeze": "SuspendInstance",
    "unfreeze": "ResumeInstance",
}
PAGE = 100
MAX_PAGES = 100  # ListInstances refuses a PageNumber over 100


def history(calls: Calls, instance_id: int) -> list[dict[str, Any]]:
    """An instance's runs (ListInstanceHistory rows) in the order they began: 2024 has no
    run history, so a workspace of either version reads it here."""
    rows = calls.legacy("ListInstanceHistory", {"InstanceId": instance_id, "ProjectEnv": PROD_2020})
    return sorted(
        rows.get("Instances") or [],
        key=lambda r: (int(r.get("BeginRunningTime") or 0), int(r["InstanceHistoryId"])),
    )


def audited_backfills(entries: list[AuditEntry]) -> list[int]:
    """The backfill ids (OpSeq) this console's successful backfills named."""
    return [
        int(found.group(1))
        for e in entries
        if e.action == "backfill" and e.outcome == "ok"
        if (found := re.search(r"\(backfill #(\d+)\)", e.detail))
    ]


class Api2020:
    """The 2020-05-18 operations of one workspace."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.calls = site.calls
        self.tasks = TaskMap(self._read_tasks)
        self._dag_backfill: dict[int, int] = {}  # DagId -> OpSeq

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.calls.legacy(action, params)

    def _read_tasks(self) -> dict[int, dict[str, Any]]:
        nodes = self.calls.pages_2020(
            "ListNodes", "Nodes", {"ProjectId": self.site.project_id, "ProjectEnv": PROD_2020}
        )
        return {int(n["NodeId"]): records.task_of_2020(n) for n in nodes}

    def project_name(self) -> str:
        answer = self.calls.client.call(
            "GetProject", {}, query={"ProjectId": self.site.project_id}, version=V2020
        )
        return (answer.get("Data") or {}).get("ProjectName", "")

    # -- nodes ----------------------------------------------------------------------------

    def _relatives(self, node_id: int, action: str) -> list[tuple[bool, dict[str, Any]]]:
        """(cross-cycle?, node) from GetNodeParents / GetNodeChildren."""
        data = self._call(action, {"NodeId": node_id, "ProjectEnv": PROD_2020})["Data"] or {}
        return [
            (STEP_TYPES.value(str(n.get("StepType", "0")), False), records.task_of_2020(n))
            for n in data.get("Nodes") or []
        ]

    def downstream_tasks(self, task: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
        return self._relatives(int(task["Id"]), "GetNodeChildren")

    def task_detail(self, task_id: int) -> dict[str, Any]:
        """GetNode, its parents (GetNodeParents) as dependencies, its code (GetNodeCode)."""
        key = {"NodeId": task_id, "ProjectEnv": PROD_2020}
        detail = records.task_of_2020(self._call("GetNode", key)["Data"])
        detail["Dependencies"] = [
            {
                "Type": "CrossCycleDependsOnOtherNode" if cross else "Normal",
                "UpstreamTaskId": parent["Id"],
            }
            for cross, parent in self._relatives(task_id, "GetNodeParents")
        ]
        detail["Script"] = {"Content": self._call("GetNodeCode", key).get("Data") or ""}
        return detail

    # -- instances ------------------------------------------------------------------------

    def _backfill_of(self, dag_id: Any) -> int | None:
        """The OpSeq (our backfill id) of a backfill DAG, read once per DAG."""
        if dag_id in (None, ""):
            return None
        dag_id = int(dag_id)
        if dag_id not in self._dag_backfill:
            dag = self._call("GetDag", {"DagId": dag_id, "ProjectEnv": PROD_2020})["Data"]
            self._dag_backfill[dag_id] = int(dag["OpSeq"])
        return self._dag_backfill[dag_id]

    def _instance(self, row: dict[str, Any], run_number: int | None = None) -> InstanceInfo:
        task = self.tasks.get(int(row["NodeId"]))
        backfill = records.instance_kind_2020(row) is InstanceKind.BACKFILL
        backfill_id = self._backfill_of(row.get("DagId")) if backfill else None
        return records.instance_2020(row, task, self.site.zone, backfill_id, run_number)

    def instances(self, query: InstanceQuery) -> Iterator[tuple[InstanceInfo, int]]:
        """Every page of ListInstances read, the filters 2020 lacks applied here, rows
        ordered by cyctime as 2024's TriggerTime would be."""
        params: dict[str, Any] = {"ProjectId": self.site.project_id, "ProjectEnv": PROD_2020}
        if query.bizdate is not None:
            params["Bizdate"] = f"{query.bizdate.isoformat()} 00:00:00"
        if query.owner:
            params["Owner"] = query.owner
        if query.task_name:
            params["NodeName"] = query.task_name
        if query.status is not None:
            params["Status"] = STATUSES_2020.words[query.status]
        dags: list[int | None] = [None]
        if query.backfill_id is not None:
            dags = [int(r["DagId"]) for r in self._dag_rows(query.backfill_id)]
        items = []
        for dag in dags:
            for row in self._list_instances({**params, "DagId": dag}):
                info = self._instance(row)
                if (query.kind is None or info.kind is query.kind) and (
                    not query.frozen_only or info.status is Status.FROZEN
                ):
                    items.append(info)
        items.sort(key=lambda i: (i.cyctime, i.id), reverse=query.descending)
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

    def _instance_row(self, instance_id: int) -> dict[str, Any]:
        with missing_as(not_found("instance", [instance_id], self.site.name)):
            return self._call("GetInstance", {"InstanceId": instance_id, "ProjectEnv": PROD_2020})[
                "Data"
            ]

    def instance(self, instance_id: int) -> InstanceInfo:
        row = self._instance_row(instance_id)
        return self._instance(row, run_number=len(history(self.calls, instance_id)))

    def parameters(self, instance_id: int) -> dict[str, str]:
        return records.parameters(self._instance_row(instance_id).get("ParamValues") or "")

    def log_text(self, instance_id: int, attempt: int | None) -> str:
        """GetInstanceLog of the attempt's history row (runs in the order they began); with
        no attempt, GetInstanceLog with no history row: the log DataWorks gives the
        instance (for one that succeeded with no run, why nothing ran)."""
        key = {"InstanceId": instance_id, "ProjectEnv": PROD_2020}
        if attempt is None:
            return self._call("GetInstanceLog", key).get("Data") or ""
        runs = history(self.calls, instance_id)
        if not 1 <= attempt <= len(runs):
            return ""  # the run's row is gone (read_log checked it existed a moment ago)
        chosen = runs[attempt - 1]
        answer = self._call(
            "GetInstanceLog", {**key, "InstanceHistoryId": chosen["InstanceHistoryId"]}
        )
        return answer.get("Data") or ""

    def neighbours(self, instance_id: int, direction: str) -> list[tuple[bool, InstanceInfo]]:
        key = {"InstanceId": instance_id, "ProjectEnv": PROD_2020}
        item = self._instance(self._call("GetInstance", key)["Data"])
        action = "GetNodeChildren" if direction == "down" else "GetNodeParents"
        shift = 1 if direction == "down" else -1
        found: list[tuple[bool, InstanceInfo]] = []
        mine: list[InstanceInfo] | None = None  # the node's own cycles, read when needed
        for cross, other in self._relatives(item.node_id, action):
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
            "ProjectId": self.site.project_id,
            "ProjectEnv": PROD_2020,
            "NodeId": node_id,
            "Bizdate": f"{bizdate.isoformat()} 00:00:00",
        }
        items = [self._instance(r) for r in self._list_instances(query)]
        return sorted(
            (i for i in items if i.kind is kind and i.backfill_id == backfill_id),
            key=lambda i: i.cyctime,
        )

    # -- acting ---------------------------------------------------------------------------

    def check_exist(self, ids: Sequence[int]) -> None:
        """2020 has no list by ids: one GetInstance each, every missing one named."""
        missing = []
        for instance_id in dict.fromkeys(ids):
            try:
                self._instance_row(instance_id)
            except NotFound:
                missing.append(instance_id)
        if missing:
            raise not_found("instance", missing, self.site.name)

    def existing(self, ids: Sequence[int]) -> dict[int, InstanceInfo]:
        """2020 has no list by ids: one GetInstance (and its history) each."""
        self.check_exist(ids)
        return {i: self.instance(i) for i in dict.fromkeys(ids)}

    def send(self, verb: str, ids: Sequence[int]) -> dict[int, str | None]:
        """One call per instance: 2020 has no batch operations."""
        outcome: dict[int, str | None] = {}
        for instance_id in ids:
            try:
                answer = self._call(
                    ACTIONS[verb], {"InstanceId": instance_id, "ProjectEnv": PROD_2020}
                )
                outcome[instance_id] = None if answer.get("Data") else "DataWorks answered false"
            except OutcomeUnknown:  # no answer: it may have been done, so stop and say so
                raise
            except ActionRefused as refused:
                outcome[instance_id] = refused.reason
        return outcome

    def set_recurrence(self, task_id: int, recurrence: str) -> None:
        """UpdateNodeRunMode: SchedulerType 2 freezes, 0 unfreezes."""
        mode = NODE_RUN_MODES.words[recurrence]
        self._call(
            "UpdateNodeRunMode",
            {"NodeId": task_id, "ProjectEnv": PROD_2020, "SchedulerType": mode},
        )

    def undeploy(self, node: str, task_id: int) -> ActionResult:
        answer = self._call("OfflineNode", {"NodeId": task_id, "ProjectId": self.site.project_id})
        if str(answer.get("Success")).lower() != "true":
            raise ActionRefused(f"DataWorks did not undeploy {node}: OfflineNode answered false")
        return ActionResult("undeploy", [task_id], f"node {node} undeployed in DataWorks")

    # -- emergency operations and runs on demand --------------------------------------------

    def remove_dependencies(
        self, instance_id: int, upstream_ids: Sequence[int], comment: str, *, preview: bool
    ) -> None:
        raise unavailable(
            "removing upstream dependencies on a 2020-05-18 workspace",
            "RemoveTaskInstanceDependencies, which only API 2024-05-18 has",
        )

    def update_instances(
        self,
        ids: Sequence[int],
        priority: int | None,
        resource_group: str | None,
        comment: str,
        *,
        preview: bool,
    ) -> dict[int, str | None]:
        raise unavailable(
            "changing an instance's priority or resource group on a 2020-05-18 workspace",
            "UpdateTaskInstances, which only API 2024-05-18 has",
        )

    def test_run(self, task_id: int, bizdate: date, comment: str) -> list[int]:
        """RunSmokeTest: a DAG whose instance ListInstances finds."""
        name = self.tasks.get(task_id).get("Name", task_id)
        dag = self._call(
            "RunSmokeTest",
            {
                "Name": f"test run {name} {bizdate}",
                "NodeId": task_id,
                "Bizdate": f"{bizdate.isoformat()} 00:00:00",
                "ProjectEnv": PROD_2020,
            },
        )["Data"]
        query = {"ProjectId": self.site.project_id, "ProjectEnv": PROD_2020, "DagId": dag}
        return sorted(int(r["InstanceId"]) for r in self._list_instances(query))

    def manual_workflow(self, name: str) -> ManualWorkflow:
        """The manually triggered nodes of the business flow ``name`` (ListNodes)."""
        params = {
            "ProjectId": self.site.project_id,
            "ProjectEnv": PROD_2020,
            "BizName": name,
            "SchedulerType": "MANUAL",
        }
        nodes = self.calls.pages_2020("ListNodes", "Nodes", params)
        if not nodes:
            raise not_found("manual workflow", [name], self.site.name)
        return ManualWorkflow(None, name, {n["NodeName"]: int(n["NodeId"]) for n in nodes})

    def run_manual(
        self, workflow: ManualWorkflow, bizdate: date, task_ids: Sequence[int], comment: str
    ) -> list[int]:
        """RunManualDagNodes (the workspace and workflow by name), then the DAG's instances
        (ListManualDagInstances)."""
        key = {"ProjectName": self.project_name(), "ProjectEnv": PROD_2020}
        params = {
            **key,
            "FlowName": workflow.name,
            "BizDate": f"{bizdate.isoformat()} 00:00:00",
            "IncludeNodeIds": ",".join(str(i) for i in task_ids) or None,
        }
        dag = self._call("RunManualDagNodes", params)["DagId"]
        rows = self._call("ListManualDagInstances", {**key, "DagId": dag}).get("Instances") or []
        return sorted(int(r["InstanceId"]) for r in rows)

    # -- backfills ------------------------------------------------------------------------

    def create_backfill(self, request: BackfillRequest) -> ActionResult:
        """RunCycleDagNodes: the root, the chosen nodes (or every same-cycle descendant),
        the excluded ones as dry runs; one DAG per business date."""
        if request.descending:
            raise ActionRefused("DataWorks 2020 backfills run their dates in ascending order only")
        tasks = self.tasks.all(refresh=True)
        ids = {t["Name"]: int(t["Id"]) for t in tasks.values()}
        missing = [n for n in (request.node, *request.include, *request.exclude) if n not in ids]
        if missing:
            raise NotFound(f"no deployed node {missing[0]!r} in workspace {self.site.name}")
        chosen = [request.node, *request.include]
        if request.downstream:
            parents: dict[str, set[str]] = {}
            root = next(t for t in tasks.values() if t["Name"] == request.node)
            walk_down(self, root, parents)
            chosen += sorted(parents)
        begin, end = (
            (f"{request.window[0]}:00", f"{request.window[1]}:00")
            if request.window
            else ("00:00:00", "23:59:59")
        )
        name = request.name or f"backfill {request.node} {request.start}..{request.end}"
        params: dict[str, Any] = {
            "Name": name,
            "ProjectEnv": PROD_2020,
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

    def _dag_rows(self, backfill_id: int) -> list[dict[str, Any]]:
        data = self._call("ListDags", {"OpSeq": backfill_id, "ProjectEnv": PROD_2020})["Data"]
        rows = (data or {}).get("Dags") or []
        if not rows:
            raise not_found("backfill", [backfill_id], self.site.name)
        for row in rows:
            self._dag_backfill[int(row["DagId"])] = backfill_id
        return rows

    def backfill_ids(self, audited: list[AuditEntry]) -> set[int]:
        """Only the backfills this console created: 2020 has no operation listing them."""
        return set(audited_backfills(audited))

    def backfill(self, backfill_id: int) -> BackfillInfo:
        dags = sorted(self._dag_rows(backfill_id), key=lambda r: int(r.get("Bizdate") or 0))
        runs = []
        nodes: set[str] = set()
        for position, dag in enumerate(dags):
            query = {
                "ProjectId": self.site.project_id,
                "ProjectEnv": PROD_2020,
                "DagId": dag["DagId"],
            }
            items = [self._instance(r) for r in self._list_instances(query)]
            nodes.update(i.node for i in items)
            day = records.wall(dag["Bizdate"], self.site.zone).date()
            word = str(dag.get("Status", "")).upper()
            status = run_status(items, self.tasks) if items else DAG_STATUSES.value(word, word)
            runs.append(BackfillRunInfo(day, position, status, records.counts(day, items).counts))
        statuses = {r.status for r in runs}
        overall = next((s for s in ("FAILURE", "RUNNING") if s in statuses), "SUCCESS")
        started = [m for d in dags if (m := records.moment(d.get("StartTime")))]
        return BackfillInfo(
            id=backfill_id,
            name=dags[0].get("Name", ""),
            created_by=dags[0].get("CreateUser", ""),
            created_at=min(started) if started else datetime.min,
            nodes=tuple(sorted(nodes)),
            parallel=1,
            descending=False,
            window=None,
            status=overall,
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
