"""2020-05-18 DAG runs (spec 4.5): RunCycleDagNodes makes one local backfill, whose
business dates are the DAGs GetDag and ListDags read (ids: mapping.dag_id); RunSmokeTest
and RunManualDagNodes make a test run and a manual run, each one DAG whose id is its
lowest instance id (mapping.Mapper.record_run), listed by ListInstances or
ListManualDagInstances."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from opscenter.backends.dataworks.emulator.base import (
    Group,
    legacy,
    prod_env,
    required_day,
    required_int,
)
from opscenter.backends.dataworks.emulator.mapping import dag_id, dag_parts
from opscenter.backends.dataworks.emulator.wire import V2020, ApiFailure, Params, invalid
from opscenter.backends.dataworks.vocabulary import MANUAL_TRIGGER
from opscenter.domain.records import ActionRefused, BackfillInfo, BackfillRequest, NodeFilter

# The fields of ListManualDagInstances' Instances[] (the SDK's model) that an instance row
# has: no Owner, PeriodNumber, Priority or TaskRerunTime as ListInstances gives.
_MANUAL_DAG_INSTANCE_FIELDS = {
    "InstanceId",
    "NodeId",
    "NodeName",
    "Status",
    "TaskType",
    "BizDate",
    "CycTime",
    "BeginRunningTime",
    "FinishTime",
    "DagType",
    "DagId",
}
MAX_CONCURRENT_RUNS = 10  # the local backfill's limit of dates in flight
WHOLE_DAY = ("00:00:00", "23:59:59")


class Dags2020(Group):
    """Backfill as SUPPLY_DATA DAGs: one per business date, grouped by ``OpSeq``."""

    VERSION = V2020
    ACTIONS = (
        "RunCycleDagNodes",
        "GetDag",
        "ListDags",
        "RunSmokeTest",
        "RunManualDagNodes",
        "ListManualDagInstances",
    )

    def RunCycleDagNodes(self, params: Params) -> dict[str, Any]:
        """One local backfill; ``Data`` is its DAG ids in business-date order."""
        prod_env(params)
        request = self._request(params)
        backfill_id = self.backend.backfill(request).extra["backfill_id"]
        days = (request.end - request.start).days + 1
        dags = [dag_id(backfill_id, request.start + timedelta(days=i)) for i in range(days)]
        return legacy(dags)

    def GetDag(self, params: Params) -> dict[str, Any]:
        prod_env(params)
        dag = required_int(params, "DagId")
        try:
            backfill = self.backend.get_backfill(dag_parts(dag)[0])
        except (ValueError, ActionRefused):
            raise invalid("DagId", f"no DAG {dag}") from None
        dags = [d for d in self._dags(backfill) if d["DagId"] == dag]
        if not dags:
            raise invalid("DagId", f"no DAG {dag}")
        return legacy(dags[0])

    def ListDags(self, params: Params) -> dict[str, Any]:
        """The DAGs of the backfill ``OpSeq``, by business date; none for an unknown one."""
        prod_env(params)
        op_seq = required_int(params, "OpSeq")
        try:
            backfill = self.backend.get_backfill(op_seq)
        except ActionRefused:
            return legacy({"Dags": []})
        return legacy({"Dags": self._dags(backfill)})

    def RunSmokeTest(self, params: Params) -> dict[str, Any]:
        """A test run of the node for ``Bizdate``; ``Data`` is its DAG id."""
        prod_env(params)
        params.text("Name", required=True)
        node = self._node(required_int(params, "NodeId"))
        if params.json("NodeParams", default={}):
            raise invalid("NodeParams", "the emulator cannot override node parameters")
        created = self.backend.test_run(node.name, required_day(params, "Bizdate")).affected
        return legacy(self.map.record_run(created))

    def RunManualDagNodes(self, params: Params) -> dict[str, Any]:
        """A manual run of the workflow ``FlowName`` (only ``IncludeNodeIds`` of it when
        given) for one ``BizDate``; a date range, exclusions and parameters are refused."""
        prod_env(params)
        self._project_name(params)
        workflow = params.text("FlowName", required=True)
        for name in ("StartBizDate", "EndBizDate", "ExcludeNodeIds"):
            if params.text(name):
                raise invalid(name, "the emulator runs one BizDate of the chosen nodes")
        for name in ("NodeParameters", "DagParameters"):
            if params.json(name, default={}):
                raise invalid(name, "the emulator cannot override parameters")
        names = {
            n.id: n.name
            for n in self.backend.list_nodes(NodeFilter(trigger=MANUAL_TRIGGER))
            if n.workflow == workflow
        }
        include = params.id_list("IncludeNodeIds")
        stray = [i for i in include if i not in names]
        if stray:
            raise invalid("IncludeNodeIds", f"node {stray[0]} is not in flow {workflow}")
        bizdate = required_day(params, "BizDate")
        chosen = [names[i] for i in include]
        created = self.backend.run_manual(workflow, bizdate, chosen).affected
        return {"DagId": self.map.record_run(created)}

    def ListManualDagInstances(self, params: Params) -> dict[str, Any]:
        """The instances of a manual run's DAG (in the SDK's shape: ``BizDate``)."""
        prod_env(params)
        self._project_name(params)
        dag = required_int(params, "DagId")
        rows = []
        for instance_id in self.map.run_members(dag):
            row = self.map.instance_2020(self.backend.get_instance(instance_id))
            row["BizDate"] = row.pop("Bizdate")
            rows.append({k: v for k, v in row.items() if k in _MANUAL_DAG_INSTANCE_FIELDS})
        return {"Instances": rows}

    def _project_name(self, params: Params) -> None:
        name = params.text("ProjectName", required=True)
        if name != self.backend.workspace().name:
            raise ApiFailure(
                403, "Forbidden.Access", f"No access to project {name}: it is not served here."
            )

    def _dags(self, backfill: BackfillInfo) -> list[dict[str, Any]]:
        runs = sorted(backfill.runs, key=lambda r: r.bizdate)
        return [self.map.dag(backfill, r, r.started_at, r.finished_at) for r in runs]

    def _request(self, params: Params) -> BackfillRequest:
        """The local backfill a RunCycleDagNodes call asks for."""
        name = params.text("Name", required=True)
        root = required_int(params, "RootNodeId")
        include = params.id_list("IncludeNodeIds", required=True)
        exclude = params.id_list("ExcludeNodeIds")
        if root not in include:
            raise invalid("IncludeNodeIds", "it must contain RootNodeId")
        names = {n.id: n.name for n in self._nodes()}
        for key, ids in (("IncludeNodeIds", include), ("ExcludeNodeIds", exclude)):
            unknown = [i for i in ids if i not in names]
            if unknown:
                raise invalid(key, f"no deployed node with id {unknown[0]}")
        start = required_day(params, "StartBizDate")
        end = required_day(params, "EndBizDate")
        if params.json("NodeParams", default={}):
            raise invalid("NodeParams", "the emulator cannot override node parameters")
        return BackfillRequest(
            node=names[root],
            start=start,
            end=end,
            include=tuple(names[i] for i in include if i != root),
            exclude=tuple(names[i] for i in exclude),
            parallel=_parallel(params),
            window=_window(params),
            name=name,
        )


def _parallel(params: Params) -> int:
    """``Parallelism`` false: one date at a time. True: ``ConcurrentRuns`` dates (2-10) at
    once, or the local maximum (10) when it is not given."""
    concurrent = params.int("ConcurrentRuns")
    if not params.bool("Parallelism", required=True):
        return 1
    if concurrent is None:
        return MAX_CONCURRENT_RUNS
    if not 2 <= concurrent <= MAX_CONCURRENT_RUNS:
        raise invalid("ConcurrentRuns", f"it must be between 2 and {MAX_CONCURRENT_RUNS}")
    return concurrent


def _window(params: Params) -> tuple[str, str] | None:
    """``BizBeginTime``/``BizEndTime`` (HH:mm:ss) as the hourly nodes' window; the whole day,
    or neither given, means none."""
    begin, end = params.text("BizBeginTime"), params.text("BizEndTime")
    if not begin and not end:
        return None
    if not begin or not end:
        raise invalid("BizBeginTime" if not begin else "BizEndTime", "give both times or neither")
    for name, text in (("BizBeginTime", begin), ("BizEndTime", end)):
        try:
            datetime.strptime(text, "%H:%M:%S")
        except ValueError:
            raise invalid(name, "expected HH:mm:ss") from None
    if (begin, end) == WHOLE_DAY:
        return None
    return begin[:5], end[:5]
