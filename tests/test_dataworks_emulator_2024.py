"""The emulator's 2024-05-18 Data Studio nodes, workspace and Offline deployment pipelines
over real HTTP on 127.0.0.1, called with our client: what a backend undeploying a node
through DataWorks sees, and what happens in the local world behind it."""

from __future__ import annotations

from typing import Any

from opscenter.backends.dataworks.client import DataWorksClient
from tests import test_dataworks_emulator as emulated
from tests.harness import World

scene = emulated.scene  # ok, failed, blocked (after failed), later, v00..v07 at 02:00
server = emulated.server
client = emulated.client
api_error = emulated.api_error
project = emulated.project
STUDIO_ID_BASE = 7_000_000_000


def studio_node(client: DataWorksClient, scene: World, name: str) -> dict[str, Any]:
    nodes = client.call("ListNodes", {"ProjectId": project(scene), "Name": name}, method="GET")[
        "PagingInfo"
    ]["Nodes"]
    return next(n for n in nodes if n["Name"] == name)


def create_run(client: DataWorksClient, scene: World, name: str, **extra: Any) -> str:
    node = studio_node(client, scene, name)
    answer = client.call(
        "CreatePipelineRun",
        {"ProjectId": project(scene), "Type": "Offline", "ObjectIds": [node["Id"]], **extra},
    )
    return answer["Id"]


def pipeline(client: DataWorksClient, scene: World, run: str) -> dict[str, Any]:
    key = {"Id": run, "ProjectId": project(scene)}
    return client.call("GetPipelineRun", key, method="GET")["Pipeline"]


def stages(run: dict[str, Any]) -> list[tuple]:
    return [(s["Step"], s["Code"], s["Type"], s["Status"]) for s in run["Stages"]]


def execute(client: DataWorksClient, scene: World, run: str, code: str) -> dict[str, Any]:
    return client.call(
        "ExecPipelineRunStage", {"Id": run, "Code": code}, query={"ProjectId": project(scene)}
    )


# -- Data Studio nodes ------------------------------------------------------------------------


def test_list_nodes_pages_with_string_ids_and_string_paging(
    client: DataWorksClient, scene: World
) -> None:
    page = client.call("ListNodes", {"ProjectId": project(scene), "PageSize": 5}, method="GET")[
        "PagingInfo"
    ]
    assert (page["PageNumber"], page["PageSize"], page["TotalCount"]) == ("1", "5", "13")
    assert len(page["Nodes"]) == 5
    every = list(
        client.iter_items(
            "ListNodes", "Nodes", {"ProjectId": project(scene)}, method="GET", page_size=5
        )
    )
    assert len(every) == 13 and len({n["Id"] for n in every}) == 13
    for node in every:
        assert isinstance(node["Id"], str) and isinstance(node["TaskId"], int)
        assert node["Id"] == str(STUDIO_ID_BASE + node["TaskId"]) != str(node["TaskId"])

    ok = studio_node(client, scene, "ok")
    assert ok["TaskId"] == scene.instance("ok").node_id
    assert ok["Trigger"]["Cron"] == "00 30 00 * * ?" and ok["Trigger"]["Timezone"] == "UTC"
    assert ok["Strategy"]["RerunMode"] == "Allowed" and ok["Recurrence"] == "Normal"
    assert ok["Script"]["Runtime"]["Command"] == "DIDE_SHELL"
    assert ok["ProjectId"] == project(scene)


def test_list_nodes_filters_by_name_and_recurrence(client: DataWorksClient, scene: World) -> None:
    def names(**params: Any) -> list[str]:
        nodes = client.call("ListNodes", {"ProjectId": project(scene), **params}, method="GET")[
            "PagingInfo"
        ]["Nodes"]
        return [n["Name"] for n in nodes]

    assert names(Name="V0") == [f"v{i:02}" for i in range(8)]
    scene.backend.freeze_node("later")
    assert names(Recurrence="Pause") == ["later"]
    assert names(Scene="DataworksManualWorkflow") == []
    error = api_error(
        lambda: client.call(
            "ListNodes", {"ProjectId": project(scene), "Recurrence": "Paused"}, method="GET"
        )
    )
    assert error.code == "InvalidParameter"


def test_get_project_names_the_workspace(client: DataWorksClient, scene: World) -> None:
    answer = client.call("GetProject", {"Id": project(scene)}, method="GET")
    assert answer["Project"] == {
        "Id": project(scene),
        "Name": "ws",
        "DisplayName": "ws",
        "Owner": "tester",
        "Status": "Available",
        "DevEnvironmentEnabled": False,
    }
    error = api_error(lambda: client.call("GetProject", {"Id": 999}, method="GET"))
    assert (error.status, error.code) == (403, "Forbidden.Access")


# -- undeploy through an Offline pipeline run -------------------------------------------------


def test_an_offline_run_driven_stage_by_stage_undeploys_the_node(
    client: DataWorksClient, scene: World
) -> None:
    node = studio_node(client, scene, "later")
    run = create_run(client, scene, "later", Description="retire later")
    assert isinstance(run, str)
    created = pipeline(client, scene, run)
    assert (created["Id"], created["Status"], created["Creator"]) == (run, "Init", "alice")
    assert created["Description"] == "retire later" and isinstance(created["CreateTime"], int)
    assert stages(created) == [(1, "PROD_CHECK", "Check", "Init"), (2, "PROD", "Offline", "Init")]

    error = api_error(lambda: execute(client, scene, run, "PROD"))  # not before the check
    assert (error.status, error.code) == (400, "OperationDenied") and "PROD_CHECK" in error.message

    assert execute(client, scene, run, "PROD_CHECK")["Success"] is True
    checked = pipeline(client, scene, run)
    assert checked["Status"] == "Running"
    assert stages(checked)[0] == (1, "PROD_CHECK", "Check", "Success")
    assert scene.backend.get_node("later").state == "deployed"
    again = api_error(lambda: execute(client, scene, run, "PROD_CHECK"))
    assert again.code == "OperationDenied"

    assert execute(client, scene, run, "PROD")["Success"] is True
    done = pipeline(client, scene, run)
    assert done["Status"] == "Success"
    assert [s["Status"] for s in done["Stages"]] == ["Success", "Success"]
    assert "undeployed" in done["Stages"][1]["Message"]

    assert scene.backend.get_node("later").state == "undeployed"
    audit = scene.backend.audit_log(limit=1)[0]
    assert (audit.action, audit.targets, audit.source, audit.outcome) == (
        "undeploy",
        ["later"],
        "emulator",
        "ok",
    )
    tasks = client.call("ListTasks", {"ProjectId": project(scene), "PageSize": 100})
    assert "later" not in {t["Name"] for t in tasks["PagingInfo"]["Tasks"]}
    assert studio_node(client, scene, "later")["Id"] == node["Id"]  # Data Studio keeps it
    listed = client.call(
        "ListPipelineRuns",
        {"ProjectId": project(scene), "Status": "Success", "ObjectId": node["Id"]},
        method="GET",
    )["PagingInfo"]
    assert [r["Id"] for r in listed["PipelineRuns"]] == [run] and listed["TotalCount"] == 1


def test_a_node_with_downstream_nodes_is_refused_naming_them(
    client: DataWorksClient, scene: World
) -> None:
    error = api_error(lambda: create_run(client, scene, "failed"))
    assert (error.status, error.code) == (400, "OperationDenied")
    assert "blocked" in error.message
    root = api_error(lambda: create_run(client, scene, "ws_root"))
    assert root.code == "OperationDenied" and "root" in root.message
    runs = client.call("ListPipelineRuns", {"ProjectId": project(scene)}, method="GET")
    assert runs["PagingInfo"]["PipelineRuns"] == []
    assert scene.backend.get_node("failed").state == "deployed"


def test_a_failed_stage_fails_the_run_with_the_refusal(
    client: DataWorksClient, scene: World
) -> None:
    run = create_run(client, scene, "later")
    scene.backend.undeploy("later")  # someone else got there first
    assert execute(client, scene, run, "PROD_CHECK")["Success"] is True  # triggered
    failed = pipeline(client, scene, run)
    assert failed["Status"] == "Fail"
    assert stages(failed) == [(1, "PROD_CHECK", "Check", "Fail"), (2, "PROD", "Offline", "Init")]
    assert "not deployed" in failed["Stages"][0]["Message"] == failed["Message"]
    error = api_error(lambda: execute(client, scene, run, "PROD"))
    assert error.code == "OperationDenied" and "ended" in error.message


def test_abolish_cancels_an_unfinished_run(client: DataWorksClient, scene: World) -> None:
    run = create_run(client, scene, "later")
    execute(client, scene, run, "PROD_CHECK")
    key = {"Id": run, "ProjectId": project(scene)}
    assert client.call("AbolishPipelineRun", key)["Success"] is True
    cancelled = pipeline(client, scene, run)
    assert cancelled["Status"] == "Cancel"
    assert [s["Status"] for s in cancelled["Stages"]] == ["Success", "Cancel"]
    assert api_error(lambda: client.call("AbolishPipelineRun", key)).code == "OperationDenied"
    assert api_error(lambda: execute(client, scene, run, "PROD")).code == "OperationDenied"
    assert scene.backend.get_node("later").state == "deployed"
    listed = client.call(
        "ListPipelineRuns", {"ProjectId": project(scene), "Status": "Cancel"}, method="GET"
    )
    assert [r["Id"] for r in listed["PagingInfo"]["PipelineRuns"]] == [run]


def test_auto_mode_runs_the_stages_up_to_the_one_named(
    client: DataWorksClient, scene: World
) -> None:
    run = create_run(client, scene, "v00", RunMode="Auto", AutoRunUntilStage="PROD_CHECK")
    assert stages(pipeline(client, scene, run))[0][3] == "Success"
    assert pipeline(client, scene, run)["Status"] == "Running"
    execute(client, scene, run, "PROD")
    assert pipeline(client, scene, run)["Status"] == "Success"
    whole = create_run(client, scene, "v01", RunMode="Auto")
    assert pipeline(client, scene, whole)["Status"] == "Success"
    assert scene.backend.get_node("v01").state == "undeployed"


def test_pipeline_runs_list_newest_first_in_pages(client: DataWorksClient, scene: World) -> None:
    runs = [create_run(client, scene, f"v0{i}") for i in range(3)]
    page = client.call(
        "ListPipelineRuns", {"ProjectId": project(scene), "PageSize": 2}, method="GET"
    )["PagingInfo"]
    assert (page["PageNumber"], page["PageSize"], page["TotalCount"]) == (1, 2, 3)
    assert [r["Id"] for r in page["PipelineRuns"]] == runs[::-1][:2]
    assert all(r["Status"] == "Init" for r in page["PipelineRuns"])


def test_pipeline_requests_that_cannot_be_served(client: DataWorksClient, scene: World) -> None:
    node = studio_node(client, scene, "later")
    base = {"ProjectId": project(scene), "Type": "Offline"}

    def create(**params: Any) -> None:
        client.call("CreatePipelineRun", {**base, **params})

    online = api_error(lambda: create(Type="Online", ObjectIds=[node["Id"]]))
    assert online.code == "InvalidParameter" and "not emulated" in online.message
    task_id = api_error(lambda: create(ObjectIds=[str(node["TaskId"])]))  # not a node id
    assert task_id.code == "InvalidParameter"
    assert api_error(lambda: create()).code == "MissingParameter"
    run = create_run(client, scene, "later")
    assert api_error(lambda: execute(client, scene, run, "DEV_CHECK")).code == "InvalidParameter"
    unknown = api_error(lambda: pipeline(client, scene, "no-such-run"))
    assert unknown.code == "InvalidParameter"
