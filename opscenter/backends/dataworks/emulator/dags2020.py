"""2020-05-18 backfill (spec 4.5): RunCycleDagNodes makes one local backfill, whose
business dates are the DAGs GetDag and ListDags read (ids: mapping.dag_id)."""

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
from opscenter.backends.dataworks.emulator.wire import V2020, Params, invalid
from opscenter.domain.records import ActionRefused, BackfillInfo, BackfillRequest

MAX_CONCURRENT_RUNS = 10  # the local backfill's limit of dates in flight
WHOLE_DAY = ("00:00:00", "23:59:59")


class Dags2020(Group):
    """Backfill as SUPPLY_DATA DAGs: one per business date, grouped by ``OpSeq``."""

    VERSION = V2020
    ACTIONS = ("RunCycleDagNodes", "GetDag", "ListDags")

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
