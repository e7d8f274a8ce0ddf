"""The emulator's 2020-05-18 nodes, undeploy, backfill DAGs and workspace over real HTTP on
127.0.0.1, called with our client: the shapes an old-DataStudio backend reads, and the
local world (store, engine, audit) behind them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from opscenter.backends.dataworks.client import DataWorksClient
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from tests import test_dataworks_emulator as emulated
from tests.harness import MakeWorld, World

server = emulated.server  # served over this module's scene
client = emulated.client
api_error = emulated.api_error
V2020 = "2020-05-18"
PROD = {"ProjectEnv": "PROD"}

WORKSPACE = """
    nodes:
      - name: extract
        type: shell
        code: "echo extracting $day"
        parameters: {day: "${yyyymmdd}"}
        priority: 3
        rerun_mode: FailureAllowed
        rerun_times: 2
        rerun_interval: 90
        trigger: {cron: "00 10 00 * * ?"}
      - name: load
        type: virtual
        depends: [extract, {type: CrossCycleDependsOnSelf}]
        trigger: {cron: "00 20 00 * * ?"}
      - name: report
        type: virtual
        rerun_mode: Denied
        depends: [load, {type: CrossCycleDependsOnOtherNode, node: extract}]
        trigger: {cron: "00 30 00 * * ?"}
      - name: summary
        type: virtual
        depends: [load, {type: CrossCycleDependsOnChildren}]
        trigger: {cron: "00 40 00 * * ?"}
      - {name: publish, type: virtual, depends: [summary], trigger: {cron: "00 50 00 * * ?"}}
      - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}}
      - {name: dry, type: virtual, recurrence: Skip, trigger: {cron: "00 00 03 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [report]}
"""


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """A chain with every cross-cycle kind, a baseline over report, an hourly and a dry-run
    node; the clock at 2025-11-01 01:00 UTC."""
    return world(WORKSPACE).start()


def call(client: DataWorksClient, action: str, params: dict[str, Any]) -> dict[str, Any]:
    return client.call(action, params, version=V2020)


def node_id(scene: World, name: str) -> int:
    return scene.backend.get_node(name).id


def ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


# -- nodes ------------------------------------------------------------------------------------


def test_list_nodes_pages_in_the_2020_shape(client: DataWorksClient, scene: World) -> None:
    answer = call(client, "ListNodes", {"ProjectId": scene.workspace_id, **PROD, "PageSize": 3})
    assert (answer["Success"], answer["HttpStatusCode"]) == (True, 200)
    page = answer["Data"]
    assert (page["PageNumber"], page["PageSize"], page["TotalCount"]) == (1, 3, 8)
    ids = [n["NodeId"] for n in page["Nodes"]]
    assert ids == sorted(ids) and all(isinstance(i, int) for i in ids)
    every = list(
        client.iter_items(
            "ListNodes",
            "Nodes",
            {"ProjectId": scene.workspace_id, **PROD},
            container="Data",
            page_size=3,
            version=V2020,
        )
    )
    assert {n["NodeName"] for n in every} == {
        "ws_root",
        "extract",
        "load",
        "report",
        "summary",
        "publish",
        "hourly",
        "dry",
    }


def test_list_nodes_filters(client: DataWorksClient, scene: World) -> None:
    def names(**params: Any) -> list[str]:
        found = call(client, "ListNodes", {"ProjectId": scene.workspace_id, **PROD, **params})
        return [n["NodeName"] for n in found["Data"]["Nodes"]]

    assert names(NodeName="LOA") == ["load"]
    assert names(ProgramType="DIDE_SHELL") == ["extract"]
    assert names(SchedulerType="SKIP") == ["dry"]
    assert names(BizName="any flow") == []
    assert names(Owner="nobody") == []
    for bad in ({"ProjectEnv": "DEV"}, {"SchedulerType": "FROZEN"}):
        error = api_error(
            lambda bad=bad: call(
                client, "ListNodes", {"ProjectId": scene.workspace_id, **PROD, **bad}
            )
        )
        assert error.code == "InvalidParameter"
    missing = api_error(lambda: call(client, "ListNodes", {"ProjectId": scene.workspace_id}))
    assert missing.code == "MissingParameter" and "ProjectEnv" in missing.message


def test_get_node_fields(client: DataWorksClient, scene: World) -> None:
    extract = call(client, "GetNode", {"NodeId": node_id(scene, "extract"), **PROD})["Data"]
    assert extract["NodeId"] == node_id(scene, "extract")
    assert (extract["NodeName"], extract["ProgramType"]) == ("extract", "DIDE_SHELL")
    assert extract["CronExpress"] == "00 10 00 * * ?"
    assert (extract["SchedulerType"], extract["Priority"]) == ("NORMAL", 3)
    assert (extract["RepeatMode"], extract["Repeatability"], extract["RepeatInterval"]) == (
        0,
        "true",
        90_000,
    )
    assert "day=${yyyymmdd}" in extract["ParamValues"].split(" ")
    assert extract["ProjectId"] == scene.workspace_id and "BaselineId" not in extract
    assert isinstance(extract["ResGroupIdentifier"], str)

    report = call(client, "GetNode", {"NodeId": node_id(scene, "report"), **PROD})["Data"]
    assert (report["RepeatMode"], report["Repeatability"]) == (2, "false")
    baselines = call(client, "ListBaselines", {"ProjectId": scene.workspace_id, "PageNumber": 1})[
        "Data"
    ]["Baselines"]
    assert report["BaselineId"] == baselines[0]["BaselineId"]

    call(
        client, "UpdateNodeRunMode", {"NodeId": node_id(scene, "load"), **PROD, "SchedulerType": 2}
    )
    load = call(client, "GetNode", {"NodeId": node_id(scene, "load"), **PROD})["Data"]
    assert load["SchedulerType"] == "PAUSE"
    code = call(client, "GetNodeCode", {"NodeId": node_id(scene, "extract"), **PROD})
    assert code["Data"] == "echo extracting $day"
    error = api_error(lambda: call(client, "GetNode", {"NodeId": 9999, **PROD}))
    assert error.code == "InvalidParameter"


def relatives(client: DataWorksClient, scene: World, action: str, name: str) -> list[tuple]:
    data = call(client, action, {"NodeId": node_id(scene, name), **PROD})["Data"]
    return [(n["NodeName"], n["StepType"]) for n in data["Nodes"]]


def test_parents_and_children_say_same_cycle_or_cross_cycle(
    client: DataWorksClient, scene: World
) -> None:
    assert relatives(client, scene, "GetNodeParents", "load") == [("extract", "0"), ("load", "3")]
    assert relatives(client, scene, "GetNodeParents", "report") == [
        ("load", "0"),
        ("extract", "3"),
    ]
    assert relatives(client, scene, "GetNodeParents", "summary") == [
        ("load", "0"),
        ("publish", "3"),
    ]
    assert relatives(client, scene, "GetNodeChildren", "extract") == [
        ("load", "0"),
        ("report", "3"),
    ]
    assert relatives(client, scene, "GetNodeChildren", "load") == [
        ("report", "0"),
        ("summary", "0"),
        ("load", "3"),
    ]
    assert relatives(client, scene, "GetNodeChildren", "publish") == [("summary", "3")]
    parent = call(client, "GetNodeParents", {"NodeId": node_id(scene, "report"), **PROD})
    load = parent["Data"]["Nodes"][0]
    assert (load["NodeId"], load["CronExpress"], load["SchedulerType"]) == (
        node_id(scene, "load"),
        "00 20 00 * * ?",
        "NORMAL",
    )


def test_offline_node_undeploys_and_answers_a_string(client: DataWorksClient, scene: World) -> None:
    publish = node_id(scene, "publish")
    answer = call(client, "OfflineNode", {"NodeId": publish, "ProjectId": scene.workspace_id})
    assert answer["Success"] == "true" and isinstance(answer["Success"], str)
    assert scene.backend.get_node("publish").state == "undeployed"
    audit = scene.backend.audit_log(limit=1)[0]
    assert (audit.action, audit.targets, audit.source) == ("undeploy", ["publish"], "emulator")
    assert api_error(lambda: call(client, "GetNode", {"NodeId": publish, **PROD})).code == (
        "InvalidParameter"
    )

    error = api_error(
        lambda: call(
            client,
            "OfflineNode",
            {"NodeId": node_id(scene, "load"), "ProjectId": scene.workspace_id},
        )
    )
    assert (error.status, error.code) == (400, "OperationDenied")
    assert "report" in error.message and "summary" in error.message
    assert scene.backend.get_node("load").state == "deployed"


# -- backfill as DAGs ---------------------------------------------------------------------------


def backfill(client: DataWorksClient, scene: World, root: str, *more: str, **params: Any) -> list:
    request = {
        "Name": "refill",
        **PROD,
        "RootNodeId": node_id(scene, root),
        "IncludeNodeIds": ",".join(str(node_id(scene, n)) for n in (root, *more)),
        "StartBizDate": "2025-10-20 00:00:00",
        "EndBizDate": "2025-10-22 00:00:00",
        "Parallelism": False,
        "BizBeginTime": "00:00:00",
        "BizEndTime": "23:59:59",
        **params,
    }
    return call(client, "RunCycleDagNodes", request)["Data"]


def dag_instances(client: DataWorksClient, scene: World, dag: int, **params: Any) -> list:
    query = {"ProjectId": scene.workspace_id, **PROD, "DagId": dag, **params}
    return call(client, "ListInstances", query)["Data"]["Instances"]


def test_run_cycle_dag_nodes_is_one_backfill_whose_dags_the_engine_runs(
    client: DataWorksClient, scene: World
) -> None:
    dags = backfill(client, scene, "extract", "load")
    (made,) = scene.backend.list_backfills()
    assert dags == [made.id * 100_000_000 + day for day in (20251020, 20251021, 20251022)]
    assert (made.name, made.nodes, made.parallel, made.window) == (
        "refill",
        ("extract", "load"),
        1,
        None,
    )
    first = call(client, "GetDag", {"DagId": dags[0], **PROD})["Data"]
    assert (first["DagId"], first["OpSeq"], first["Type"]) == (dags[0], made.id, "SUPPLY_DATA")
    assert (first["Bizdate"], first["Name"], first["CreateUser"]) == (
        ms(date(2025, 10, 20)),
        "refill",
        "alice",
    )
    assert first["Status"] == "CREATED" and "StartTime" not in first
    listed = call(client, "ListDags", {"OpSeq": made.id, **PROD})["Data"]["Dags"]
    assert [d["DagId"] for d in listed] == dags

    scene.idle()  # the scheduler runs the backfill, one date after the other
    ran = call(client, "ListDags", {"OpSeq": made.id, **PROD})["Data"]["Dags"]
    assert [d["Status"] for d in ran] == ["SUCCESS"] * 3
    done = call(client, "GetDag", {"DagId": dags[0], **PROD})["Data"]
    assert done["StartTime"] <= done["FinishTime"]
    rows = dag_instances(client, scene, dags[0])
    assert sorted(r["NodeName"] for r in rows) == ["extract", "load"]
    assert {(r["DagId"], r["DagType"], r["Status"]) for r in rows} == {
        (dags[0], "SUPPLY_DATA", "SUCCESS")
    }
    assert {r["Bizdate"] for r in rows} == {ms(date(2025, 10, 20))}
    extract = next(r for r in rows if r["NodeName"] == "extract")
    log = call(client, "GetInstanceLog", {"InstanceId": extract["InstanceId"], **PROD})["Data"]
    assert "extracting 20251020" in log
    assert dag_instances(client, scene, dags[0], Bizdate="2025-10-21 00:00:00") == []
    local = scene.backend.list_instances(InstanceFilter(backfill_id=made.id, limit=50)).items
    assert len(local) == 6 and {i.status for i in local} == {Status.SUCCESS}


def test_parallel_dates_and_a_window_for_hourly_nodes(
    client: DataWorksClient, scene: World
) -> None:
    dags = backfill(
        client,
        scene,
        "hourly",
        Parallelism=True,
        ConcurrentRuns=2,
        BizBeginTime="08:00:00",
        BizEndTime="10:00:00",
    )
    (made,) = scene.backend.list_backfills()
    assert (made.parallel, made.window) == (2, ("08:00", "10:00"))
    scene.idle()
    rows = dag_instances(client, scene, dags[1])
    assert [r["CycTime"] for r in sorted(rows, key=lambda r: r["CycTime"])] == [
        int(datetime(2025, 10, 22, hour, tzinfo=UTC).timestamp() * 1000) for hour in (8, 9, 10)
    ]
    backfill(client, scene, "extract", Parallelism=True)
    assert scene.backend.list_backfills()[0].parallel == 10


def test_backfill_requests_that_are_refused(client: DataWorksClient, scene: World) -> None:
    def code(*nodes: str, **params: Any) -> str:
        return api_error(lambda: backfill(client, scene, *nodes, **params)).code

    root_left_out = {"IncludeNodeIds": str(node_id(scene, "load"))}
    assert code("extract", **root_left_out) == "InvalidParameter"
    assert code("extract", ExcludeNodeIds="9999") == "InvalidParameter"
    assert code("load", "extract") == "OperationDenied"  # extract is not below load
    assert code("extract", BizEndTime="") == "InvalidParameter"
    assert code("extract", NodeParams={"1": "day=1"}) == "InvalidParameter"
    assert code("extract", Parallelism=True, ConcurrentRuns=11) == "InvalidParameter"
    assert code("extract", Parallelism="") == "MissingParameter"
    assert scene.backend.list_backfills() == []
    unknown = api_error(lambda: call(client, "GetDag", {"DagId": 999, **PROD}))
    assert unknown.code == "InvalidParameter"
    assert call(client, "ListDags", {"OpSeq": 999, **PROD})["Data"] == {"Dags": []}


def test_list_instances_by_node_and_status(client: DataWorksClient, scene: World) -> None:
    base = {"ProjectId": scene.workspace_id, **PROD, "Bizdate": "2025-10-31 00:00:00"}
    rows = call(client, "ListInstances", {**base, "NodeId": node_id(scene, "extract")})
    assert [r["NodeName"] for r in rows["Data"]["Instances"]] == ["extract"]
    assert "DagId" not in rows["Data"]["Instances"][0]  # periodic, no backfill DAG
    done = call(client, "ListInstances", {**base, "Status": "SUCCESS"})["Data"]["Instances"]
    assert {r["NodeName"] for r in done} >= {"ws_root", "extract"}


# -- the workspace ------------------------------------------------------------------------------


def test_get_project_by_id_or_identifier(client: DataWorksClient, scene: World) -> None:
    expected = {
        "ProjectId": scene.workspace_id,
        "ProjectIdentifier": "ws",
        "ProjectName": "ws",
        "Status": 0,
        "ProjectMode": 3,
        "EnvTypes": ["PROD"],
    }
    by_id = client.call("GetProject", {}, query={"ProjectId": scene.workspace_id}, version=V2020)
    assert by_id["Data"] == expected and by_id["Success"] is True
    by_name = client.call("GetProject", {}, query={"ProjectIdentifier": "ws"}, version=V2020)
    assert by_name["Data"] == expected
    error = api_error(
        lambda: client.call("GetProject", {}, query={"ProjectIdentifier": "other"}, version=V2020)
    )
    assert (error.status, error.code) == (403, "Forbidden.Access")
