"""The official DataWorks SDKs (alibabacloud-dataworks-public20240518 and -20200518) as test
clients of the emulator over real HTTP on 127.0.0.1: every operation the console and the CLI
use (and every other one the emulator serves) is called through the SDK's own ``Client``,
signed by it, and its answer must parse into the SDK's response model with the types that
model declares.

How a wrong type shows: the Tea models' ``from_map`` copies a scalar as it comes (an int
where the model says ``str`` parses, untyped), and raises only where a nested model or a
list of models gets something that is not a map or a list of maps. So every answer is also
walked against the declared field types (``type_errors``), and its wire fields are checked
to be ones the model knows (``unknown_fields``: a field the SDK drops is one a real client
never sees).
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alibabacloud_dataworks_public20200518 import models as m20
from alibabacloud_dataworks_public20200518.client import Client as Client2020
from alibabacloud_dataworks_public20240518 import models as m24
from alibabacloud_dataworks_public20240518.client import Client as Client2024
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.model import DaraModel

from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import InstanceInfo
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import KEY_ID, SECRET, serving

# Fields the emulator sends where the SDK's model for that operation has none (the SDK
# drops them, so a real client never reads them there): the 2020 envelope on operations
# whose model lacks it, and fields DataWorks gives in other operations' answers. Known and
# harmless to the SDK; any other unknown field fails.
_TASK_EXTRAS = {"Task.ProjectEnv", "Task.ScriptParameters"}
EXTRA_FIELDS: dict[str, set[str]] = {
    "GetTask": {"body.Task.ScriptParameters"},
    "ListUpstreamTasks": {f"body.PagingInfo.UpstreamTasks[].{f}" for f in _TASK_EXTRAS},
    "ListDownstreamTasks": {f"body.PagingInfo.DownstreamTasks[].{f}" for f in _TASK_EXTRAS},
    "ListUpstreamTaskInstances": {
        "body.PagingInfo.UpstreamTaskInstances[].TaskInstance.ProjectEnv"
    },
    "ListDownstreamTaskInstances": {
        "body.PagingInfo.DownstreamTaskInstances[].TaskInstance.ProjectEnv"
    },
    "ListInstances": {"body.Data.Instances[].Owner", "body.Data.Instances[].PeriodNumber"},
    "GetInstanceStatusCount": {"body.HttpStatusCode", "body.Success"},
    "TopTenErrorTimesInstance": {"body.HttpStatusCode", "body.Success"},
    "ListInstanceHistory": {"body.HttpStatusCode"},
    "OfflineNode": {"body.HttpStatusCode"},
    "UpdateNodeRunMode": {"body.HttpStatusCode"},
}
V2024, V2020 = "2024-05-18", "2020-05-18"
SDK = {V2024: (Client2024, m24), V2020: (Client2020, m20)}
PROD = "PROD"

WORKSPACE = """
    resource_groups: [{name: spare, slots: 1}]
    nodes:
      - {name: ok, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "echo ERROR: disk full; exit 1",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
      - {name: extract, type: shell, code: 'echo "extract of $bizdate"',
         trigger: {type: Manual}, workflow: export}
      - {name: publish, type: virtual, depends: [extract], trigger: {type: Manual},
         workflow: export}
      - {name: later, type: virtual, depends: [ok], trigger: {cron: "00 00 05 * * ?"}}
      - {name: leaf, type: virtual, trigger: {cron: "00 00 07 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [blocked]}
      - {name: soon, committed_time: "05:20", margin: 30, nodes: [later]}
    alerts:
      - {name: failed_job, trigger: Error, nodes: [failed], interval: 10m, max: 3}
"""
BIZDATE = datetime(2025, 10, 31, tzinfo=UTC)
BIZDATE_MS = int(BIZDATE.timestamp() * 1000)
RUN_DAY = date(2025, 10, 20)  # the business date of the test and manual runs
WINDOW = {"begin_time": "2025-10-30T00:00:00Z", "end_time": "2025-11-02T00:00:00Z"}


# -- the declared types ----------------------------------------------------------------------


def _hints(model: type[DaraModel]) -> dict[str, Any]:
    """The model's fields and their declared types (its ``__init__`` annotations, strings
    under ``from __future__ import annotations``, resolved in the model's module)."""
    module = sys.modules[model.__module__]
    space = {**vars(typing), **vars(module)}
    hints = typing.get_type_hints(model.__init__, globalns=space)
    hints.pop("return", None)
    return hints


def _check(value: Any, hint: Any, path: str, errors: list[str]) -> None:
    if value is None or hint is Any:
        return
    origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: {value!r} is not a list")
            return
        (item,) = typing.get_args(hint)
        for i, element in enumerate(value):
            _check(element, item, f"{path}[{i}]", errors)
    elif origin is dict or hint is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: {value!r} is not a map")
            return
        args = typing.get_args(hint)
        for key, element in value.items():
            _check(element, args[1] if args else Any, f"{path}.{key}", errors)
    elif isinstance(hint, type) and issubclass(hint, DaraModel):
        if not isinstance(value, hint):
            errors.append(f"{path}: {value!r} is not a {hint.__name__}")
            return
        errors.extend(type_errors(value, path))
    elif hint is bool:
        if not isinstance(value, bool):
            errors.append(f"{path}: {value!r} is not a bool")
    elif hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: {value!r} is not an int")
    elif hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            errors.append(f"{path}: {value!r} is not a float")
    elif hint is str:
        if not isinstance(value, str):
            errors.append(f"{path}: {value!r} is not a str")
    else:
        errors.append(f"{path}: no check for the declared type {hint!r}")


def type_errors(model: DaraModel, path: str = "body") -> list[str]:
    """Every field of a parsed model whose value is not of the type the model declares."""
    errors: list[str] = []
    for name, hint in _hints(type(model)).items():
        _check(getattr(model, name, None), hint, f"{path}.{name}", errors)
    return errors


def unknown_fields(sent: Any, parsed: Any, path: str = "body") -> list[str]:
    """Wire fields (``sent``) the SDK model dropped (absent from its ``to_map()``)."""
    found: list[str] = []
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key, value in sent.items():
            if value is None:
                continue
            if key not in parsed:
                found.append(f"{path}.{key}")
            else:
                found.extend(unknown_fields(value, parsed[key], f"{path}.{key}"))
    elif isinstance(sent, list) and isinstance(parsed, list):
        for i, (a, b) in enumerate(zip(sent, parsed, strict=False)):
            found.extend(unknown_fields(a, b, f"{path}[{i}]"))
    return found


# -- the SDK clients over the emulator -----------------------------------------------------


class Recorded:
    """An SDK client whose last raw answer (the JSON body before parsing) is kept."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.raw: dict[str, Any] = {}
        call_api = client.call_api

        def recording(params: Any, request: Any, runtime: Any) -> dict[str, Any]:
            answer = call_api(params, request, runtime)
            self.raw = answer.get("body") or {}
            return answer

        client.call_api = recording

    def call(self, version: str, action: str, **request: Any) -> Any:
        """``action`` through the SDK method of that name, with a typed request; the typed
        response, checked against the model's declared types and fields."""
        models = SDK[version][1]
        method = "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")
        response = getattr(self.client, method)(getattr(models, f"{action}Request")(**request))
        assert response.status_code == 200
        assert response.body.request_id
        errors = type_errors(response.body)
        assert not errors, f"{action}: wrong types for the SDK model:\n" + "\n".join(errors)
        dropped = {
            re.sub(r"\[\d+\]", "[]", d) for d in unknown_fields(self.raw, response.body.to_map())
        }
        unexpected = sorted(dropped - EXTRA_FIELDS.get(action, set()))
        assert not unexpected, f"{action}: fields the SDK model does not know: {unexpected}"
        return response.body


def sdk_client(url: str, version: str) -> Recorded:
    endpoint = url.removeprefix("http://").rstrip("/")
    config = Config(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        endpoint=endpoint,
        protocol="http",
        read_timeout=20_000,
        connect_timeout=5_000,
    )
    return Recorded(SDK[version][0](config))


@dataclass
class Scene:
    """The served world at 02:00 and an SDK client of each version."""

    world: World
    v24: Recorded
    v20: Recorded
    project: int
    ids: dict[str, int] = field(default_factory=dict)

    def node(self, name: str) -> int:
        return self.ids[name]

    def instance(self, name: str) -> int:
        return self.world.instance(name).id

    def call(self, version: str, action: str, **request: Any) -> Any:
        client = self.v24 if version == V2024 else self.v20
        return client.call(version, action, **request)

    def settled(self, ids: list[int]) -> dict[str, InstanceInfo]:
        """The instances once all have finished, by node name."""
        get = self.world.backend.get_instance
        self.world.wait_for(lambda: all(get(i).status.finished for i in ids))
        return {get(i).node: get(i) for i in ids}


@pytest.fixture
def scene(world: MakeWorld) -> Iterator[Scene]:
    """At 02:00: ok succeeded, failed failed (an ERROR event on morning's path, an alert
    fired), blocked waits on it, later (baseline soon, a warning) and leaf wait for time."""
    w = world(WORKSPACE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    with serving(w) as url:
        ids = {n.name: n.id for n in w.backend.list_nodes()}
        yield Scene(w, sdk_client(url, V2024), sdk_client(url, V2020), w.workspace_id, ids)


# -- 2024-05-18 ----------------------------------------------------------------------------

Case = Callable[[Scene], None]
CASES_2024: dict[str, Case] = {}
CASES_2020: dict[str, Case] = {}


def case(table: dict[str, Case], *actions: str) -> Callable[[Case], Case]:
    """Register a test body under the actions it drives (its parametrize id)."""

    def register(body: Case) -> Case:
        table[" ".join(actions)] = body
        return body

    return register


@case(CASES_2024, "ListTasks")
def _list_tasks(s: Scene) -> None:
    body = s.call(V2024, "ListTasks", project_id=s.project, page_size=2)
    assert body.paging_info.total_count == len(s.ids) and body.paging_info.page_size == 2
    assert [t.name for t in body.paging_info.tasks] == ["leaf", "later"]  # Id Desc
    first = body.paging_info.tasks[0]
    assert first.id == s.node("leaf") and first.trigger.recurrence == "Normal"
    assert first.trigger.cron == "00 00 07 * * ?" and first.project_id == s.project


@case(CASES_2024, "GetTask")
def _get_task(s: Scene) -> None:
    task = s.call(V2024, "GetTask", id=s.node("blocked")).task
    assert (task.id, task.name, task.type) == (s.node("blocked"), "blocked", "VIRTUAL")
    [dependency] = task.dependencies
    assert dependency.upstream_task_id == str(s.node("failed"))
    assert dependency.type == "Normal"


@case(CASES_2024, "ListUpstreamTasks", "ListDownstreamTasks")
def _task_relatives(s: Scene) -> None:
    up = s.call(V2024, "ListUpstreamTasks", id=s.node("blocked")).paging_info
    assert [(u.dependency_type, u.task.name) for u in up.upstream_tasks] == [("Normal", "failed")]
    down = s.call(V2024, "ListDownstreamTasks", id=s.node("failed")).paging_info
    assert [(d.dependency_type, d.task.id) for d in down.downstream_tasks] == [
        ("Normal", s.node("blocked"))
    ]


@case(CASES_2024, "UpdateTask")
def _update_task(s: Scene) -> None:
    trigger = m24.UpdateTaskRequestTrigger(recurrence="Pause")
    assert s.call(V2024, "UpdateTask", id=s.node("leaf"), trigger=trigger).success is True
    assert s.world.backend.get_node("leaf").frozen


@case(CASES_2024, "BatchUpdateTasks")
def _batch_update_tasks(s: Scene) -> None:
    """The SDK sends ``Tags`` (an empty list) with every task."""
    tasks = [
        m24.BatchUpdateTasksRequestTasks(
            id=s.node(name), trigger=m24.BatchUpdateTasksRequestTasksTrigger(recurrence="Pause")
        )
        for name in ("leaf", "later")
    ]
    body = s.call(V2024, "BatchUpdateTasks", tasks=tasks, comment="maintenance")
    assert {k: (v.success, v.message) for k, v in body.success_info.items()} == {
        str(s.node("leaf")): (True, body.success_info[str(s.node("leaf"))].message),
        str(s.node("later")): (True, body.success_info[str(s.node("later"))].message),
    }
    assert s.world.backend.get_node("leaf").frozen and s.world.backend.get_node("later").frozen


@case(CASES_2024, "ListNodes")
def _list_nodes_2024(s: Scene) -> None:
    body = s.call(V2024, "ListNodes", project_id=s.project, scene="DataworksProject", name="ok")
    [node] = body.paging_info.nodes
    assert node.name == "ok" and node.task_id == s.node("ok") and node.id != str(s.node("ok"))
    assert body.paging_info.total_count == "1"  # a string, as the SDK declares it


@case(CASES_2024, "ListTaskInstances", "GetTaskInstance", "GetTaskInstanceLog")
def _task_instances(s: Scene) -> None:
    listed = s.call(
        V2024, "ListTaskInstances", project_id=s.project, bizdate=BIZDATE_MS, task_name="failed"
    ).paging_info
    [failed] = listed.task_instances
    assert (failed.id, failed.status, failed.bizdate) == (
        s.instance("failed"),
        "Failure",
        BIZDATE_MS,
    )
    detail = s.call(V2024, "GetTaskInstance", id=s.instance("failed")).task_instance
    assert (detail.task_name, detail.task_id, detail.run_number) == ("failed", s.node("failed"), 1)
    log = s.call(V2024, "GetTaskInstanceLog", id=s.instance("failed"), run_number=1)
    assert "ERROR: disk full" in log.task_instance_log


@case(CASES_2024, "ListUpstreamTaskInstances", "ListDownstreamTaskInstances")
def _instance_relatives(s: Scene) -> None:
    up = s.call(V2024, "ListUpstreamTaskInstances", id=s.instance("blocked")).paging_info
    [parent] = up.upstream_task_instances
    assert parent.task_instance.id == s.instance("failed") and parent.dependency_type == "Normal"
    down = s.call(V2024, "ListDownstreamTaskInstances", id=s.instance("failed")).paging_info
    assert [d.task_instance.task_name for d in down.downstream_task_instances] == ["blocked"]


@case(CASES_2024, "SuspendTaskInstances", "ResumeTaskInstances")
def _suspend_resume(s: Scene) -> None:
    leaf = s.instance("leaf")
    body = s.call(V2024, "SuspendTaskInstances", ids=[leaf], comment="hold")
    assert body.success_info[str(leaf)].success is True
    assert s.world.status("leaf") is Status.FROZEN
    body = s.call(V2024, "ResumeTaskInstances", ids=[leaf], comment="go")
    assert body.success_info[str(leaf)].success is True


@case(CASES_2024, "RerunTaskInstances", "StopTaskInstances", "SetSuccessTaskInstances")
def _instance_actions(s: Scene) -> None:
    failed, leaf, ok = s.instance("failed"), s.instance("leaf"), s.instance("ok")
    body = s.call(V2024, "StopTaskInstances", ids=[leaf], comment="not today")
    assert body.success_info[str(leaf)].success is True
    body = s.call(V2024, "SetSuccessTaskInstances", ids=[leaf], comment="done by hand")
    assert body.success_info[str(leaf)].success is True
    assert s.world.status("leaf") is Status.SUCCESS
    body = s.call(V2024, "StopTaskInstances", ids=[ok], comment="too late")
    refused = body.success_info[str(ok)]
    assert refused.success is False and refused.message
    body = s.call(V2024, "RerunTaskInstances", ids=[failed], comment="again")
    assert body.success_info[str(failed)].success is True


@case(
    CASES_2024,
    "CreateWorkflowInstances",
    "GetCreateWorkflowInstancesResult",
    "ListWorkflowInstances",
    "GetWorkflowInstance",
    "StopWorkflowInstances",
)
def _backfill(s: Scene) -> None:
    created = s.call(
        V2024,
        "CreateWorkflowInstances",
        name="redo ok",
        project_id=s.project,
        env_type="Prod",
        type="SupplementData",
        workflow_id=1,
        periods=m24.CreateWorkflowInstancesRequestPeriods(
            biz_dates=[
                m24.CreateWorkflowInstancesRequestPeriodsBizDates(
                    start_biz_date="2025-10-29", end_biz_date="2025-10-30"
                )
            ]
        ),
        default_run_properties=m24.CreateWorkflowInstancesRequestDefaultRunProperties(
            mode="General", root_task_ids=[s.node("ok")], parallelism=1, order="Asc"
        ),
    )
    result = s.call(
        V2024, "GetCreateWorkflowInstancesResult", operation_id=created.operation_id
    ).result
    assert result.status == "Created"
    [run] = result.workflow_instance_ids
    listed = s.call(
        V2024,
        "ListWorkflowInstances",
        project_id=s.project,
        type="SupplementData",
        biz_date=int(datetime(2025, 10, 29, tzinfo=UTC).timestamp() * 1000),
    ).paging_info
    assert [(w.id, w.name, w.type) for w in listed.workflow_instances] == [
        (run, "redo ok", "SupplementData")
    ]
    detail = s.call(V2024, "GetWorkflowInstance", id=run).workflow_instance
    assert (detail.id, detail.workflow_id) == (run, 1)
    stopped = s.call(V2024, "StopWorkflowInstances", ids=[run], comment="enough")
    assert stopped.success_info[str(run)].success is True


@case(CASES_2024, "RemoveTaskInstanceDependencies")
def _remove_upstream(s: Scene) -> None:
    blocked, failed = s.instance("blocked"), s.instance("failed")
    body = s.call(
        V2024,
        "RemoveTaskInstanceDependencies",
        id=blocked,
        upstream_task_instance_ids=[failed],
        comment="source is down",
    )
    assert body.success is True
    up = s.call(V2024, "ListUpstreamTaskInstances", id=blocked).paging_info
    assert up.upstream_task_instances == []  # the dependency is gone, not listed as removed
    down = s.call(V2024, "ListDownstreamTaskInstances", id=failed).paging_info
    assert down.downstream_task_instances == []
    s.world.idle()
    assert s.world.status("blocked") is Status.SUCCESS  # no longer waits on failed
    assert s.world.status("failed") is Status.FAILURE
    served = s.world.backend.audit_log(limit=1)[0]
    assert served.action == "remove upstream" and "comment: source is down" in served.detail


@case(CASES_2024, "UpdateTaskInstances")
def _update_instances(s: Scene) -> None:
    later, ok = s.instance("later"), s.instance("ok")
    change = m24.UpdateTaskInstancesRequestTaskInstances
    body = s.call(
        V2024,
        "UpdateTaskInstances",
        task_instances=[
            change(id=later, priority=8, runtime_resource="spare"),
            change(id=ok, priority=8),
        ],
        comment="rush",
    )
    assert body.success_info[str(later)].success is True
    refused = body.success_info[str(ok)]  # a finished instance keeps its priority
    assert refused.success is False and "keeps its priority" in refused.message
    changed = s.world.backend.get_instance(later)
    assert (changed.priority, changed.resource_group) == (8, "spare")
    assert s.world.backend.get_instance(ok).priority != 8
    detail = s.call(V2024, "GetTaskInstance", id=later).task_instance
    assert detail.priority == 8 and detail.runtime_resource.resource_group_id == "spare"


def _one_day(day: date) -> m24.CreateWorkflowInstancesRequestPeriods:
    text = day.isoformat()
    return m24.CreateWorkflowInstancesRequestPeriods(
        biz_dates=[
            m24.CreateWorkflowInstancesRequestPeriodsBizDates(
                start_biz_date=text, end_biz_date=text
            )
        ]
    )


def _created_run(s: Scene, kind: str, workflow: int, **properties: Any) -> list[int]:
    """CreateWorkflowInstances of ``kind`` for RUN_DAY, its result polled (one workflow
    instance), and that workflow instance's task instances (ListTaskInstances)."""
    created = s.call(
        V2024,
        "CreateWorkflowInstances",
        name=f"{kind} run",
        project_id=s.project,
        env_type="Prod",
        type=kind,
        workflow_id=workflow,
        periods=_one_day(RUN_DAY),
        default_run_properties=m24.CreateWorkflowInstancesRequestDefaultRunProperties(**properties)
        if properties
        else None,
        comment=f"{kind} by hand",
    )
    result = s.call(
        V2024, "GetCreateWorkflowInstancesResult", operation_id=created.operation_id
    ).result
    assert (result.status, result.failure_message) == ("Created", None)
    [run] = result.workflow_instance_ids
    listed = s.call(
        V2024,
        "ListTaskInstances",
        project_id=s.project,
        workflow_instance_id=run,
        workflow_instance_type="Manual" if kind == "ManualWorkflow" else kind,
    ).paging_info.task_instances
    assert all(t.workflow_instance_id == run for t in listed)
    return [t.id for t in listed]


@case(CASES_2024, "CreateWorkflowInstances SmokeTest", "GetCreateWorkflowInstancesResult")
def _test_run(s: Scene) -> None:
    [test] = _created_run(s, "SmokeTest", 1, root_task_ids=[s.node("ok")])
    run = s.settled([test])["ok"]
    assert (run.kind, run.bizdate, run.status) == (InstanceKind.TEST, RUN_DAY, Status.SUCCESS)
    detail = s.call(V2024, "GetTaskInstance", id=test).task_instance
    assert (detail.task_id, detail.workflow_instance_type) == (s.node("ok"), "SmokeTest")
    assert s.world.status("blocked") is Status.NOT_RUN  # a test run has no downstream


@case(CASES_2024, "ListWorkflows", "GetWorkflow")
def _manual_workflows(s: Scene) -> None:
    [export] = s.call(
        V2024, "ListWorkflows", project_id=s.project, env_type="Prod", trigger_type="Manual"
    ).paging_info.workflows
    assert (export.name, export.trigger.type, export.env_type) == ("export", "Manual", "Prod")
    workflow = s.call(V2024, "GetWorkflow", id=export.id, env_type="Prod").workflow
    assert (workflow.id, workflow.name) == (export.id, "export")
    assert [(t.name, t.id, t.workflow_id) for t in workflow.tasks] == [
        ("extract", s.node("extract"), export.id),
        ("publish", s.node("publish"), export.id),
    ]
    task = s.call(V2024, "GetTask", id=s.node("extract")).task
    assert (task.trigger.type, task.workflow_id) == ("Manual", export.id)


@case(
    CASES_2024,
    "CreateWorkflowInstances ManualWorkflow Manual",
    "GetCreateWorkflowInstancesResult",
)
def _manual_runs(s: Scene) -> None:
    [export] = s.call(
        V2024, "ListWorkflows", project_id=s.project, trigger_type="Manual"
    ).paging_info.workflows
    whole = s.settled(_created_run(s, "ManualWorkflow", export.id))
    assert set(whole) == {"extract", "publish"}
    for run in whole.values():
        assert (run.kind, run.bizdate, run.status) == (
            InstanceKind.MANUAL,
            RUN_DAY,
            Status.SUCCESS,
        )
    assert whole["extract"].finished_at <= whole["publish"].started_at  # dependency order
    assert "extract of 20251020" in s.world.backend.read_log(whole["extract"].id).text
    chosen = _created_run(s, "Manual", export.id, include_task_ids=[s.node("extract")])
    assert {n: i.kind for n, i in s.settled(chosen).items()} == {"extract": InstanceKind.MANUAL}


@case(CASES_2024, "GetProject")
def _get_project_2024(s: Scene) -> None:
    project = s.call(V2024, "GetProject", id=s.project).project
    assert (project.id, project.name, project.status) == (s.project, "ws", "Available")


@case(
    CASES_2024,
    "CreatePipelineRun",
    "GetPipelineRun",
    "ExecPipelineRunStage",
    "ListPipelineRuns",
    "AbolishPipelineRun",
)
def _pipeline(s: Scene) -> None:
    [studio] = s.call(
        V2024, "ListNodes", project_id=s.project, scene="DataworksProject", name="leaf"
    ).paging_info.nodes
    key = {"project_id": s.project}
    run = s.call(V2024, "CreatePipelineRun", type="Offline", object_ids=[studio.id], **key).id
    pipeline = s.call(V2024, "GetPipelineRun", id=run, **key).pipeline
    assert pipeline.status == "Init"
    for stage in sorted(pipeline.stages, key=lambda st: st.step):
        assert s.call(V2024, "ExecPipelineRunStage", id=run, code=stage.code, **key).success
    assert s.call(V2024, "GetPipelineRun", id=run, **key).pipeline.status == "Success"
    assert s.world.backend.get_node("leaf").state == "undeployed"
    runs = s.call(V2024, "ListPipelineRuns", **key).paging_info.pipeline_runs
    assert [r.id for r in runs] == [run]
    [other] = s.call(
        V2024, "ListNodes", project_id=s.project, scene="DataworksProject", name="blocked"
    ).paging_info.nodes
    second = s.call(V2024, "CreatePipelineRun", type="Offline", object_ids=[other.id], **key).id
    assert s.call(V2024, "AbolishPipelineRun", id=second, **key).success is True
    assert s.call(V2024, "GetPipelineRun", id=second, **key).pipeline.status == "Cancel"


@pytest.mark.parametrize("actions", list(CASES_2024))
def test_2024_operations_through_the_sdk(scene: Scene, actions: str) -> None:
    CASES_2024[actions](scene)


# -- 2020-05-18 ----------------------------------------------------------------------------


@case(CASES_2020, "ListNodes")
def _list_nodes_2020(s: Scene) -> None:
    data = s.call(V2020, "ListNodes", project_id=s.project, project_env=PROD, page_size=100).data
    assert data.total_count == len(s.ids) and data.page_number == 1
    by_name = {n.node_name: n for n in data.nodes}
    assert by_name["leaf"].node_id == s.node("leaf") and by_name["leaf"].scheduler_type == "NORMAL"
    assert by_name["leaf"].cron_express == "00 00 07 * * ?"


@case(CASES_2020, "GetNode", "GetNodeCode")
def _get_node(s: Scene) -> None:
    node = s.call(V2020, "GetNode", node_id=s.node("failed"), project_env=PROD).data
    assert (node.node_id, node.node_name, node.project_id) == (
        s.node("failed"),
        "failed",
        s.project,
    )
    assert node.repeatability == "true"  # a string, as the SDK and the docs have it
    code = s.call(V2020, "GetNodeCode", node_id=s.node("failed"), project_env=PROD).data
    assert "disk full" in code


@case(CASES_2020, "GetNodeParents", "GetNodeChildren")
def _node_relatives(s: Scene) -> None:
    parents = s.call(V2020, "GetNodeParents", node_id=s.node("blocked"), project_env=PROD).data
    assert [(n.node_id, n.node_name) for n in parents.nodes] == [(s.node("failed"), "failed")]
    children = s.call(V2020, "GetNodeChildren", node_id=s.node("failed"), project_env=PROD).data
    assert [n.node_name for n in children.nodes] == ["blocked"]


@case(CASES_2020, "ListInstances", "GetInstance", "ListInstanceHistory", "GetInstanceLog")
def _instances_2020(s: Scene) -> None:
    data = s.call(
        V2020,
        "ListInstances",
        project_id=s.project,
        project_env=PROD,
        bizdate="2025-10-31 00:00:00",
        node_id=s.node("failed"),
    ).data
    [failed] = data.instances
    assert (failed.instance_id, failed.status) == (s.instance("failed"), "FAILURE")
    assert data.total_count == 1
    one = s.call(V2020, "GetInstance", instance_id=failed.instance_id, project_env=PROD).data
    assert (one.node_name, one.status, one.bizdate) == ("failed", "FAILURE", BIZDATE_MS)
    [run] = s.call(
        V2020, "ListInstanceHistory", instance_id=failed.instance_id, project_env=PROD
    ).instances
    assert run.status == "FAILURE" and run.instance_history_id == 1
    log = s.call(
        V2020,
        "GetInstanceLog",
        instance_id=failed.instance_id,
        instance_history_id=run.instance_history_id,
        project_env=PROD,
    ).data
    assert "ERROR: disk full" in log


@case(
    CASES_2020,
    "RestartInstance",
    "SuspendInstance",
    "ResumeInstance",
    "StopInstance",
    "SetSuccessInstance",
)
def _instance_actions_2020(s: Scene) -> None:
    def act(action: str, name: str) -> bool:
        body = s.call(V2020, action, instance_id=s.instance(name), project_env=PROD)
        assert body.success is True
        return body.data

    assert act("RestartInstance", "failed") is True
    assert act("SuspendInstance", "leaf") is True
    assert s.world.status("leaf") is Status.FROZEN
    assert act("ResumeInstance", "leaf") is True
    assert act("StopInstance", "later") is True
    assert act("SetSuccessInstance", "later") is True
    assert s.world.status("later") is Status.SUCCESS


@case(CASES_2020, "UpdateNodeRunMode", "OfflineNode")
def _node_run_mode_and_offline(s: Scene) -> None:
    body = s.call(
        V2020, "UpdateNodeRunMode", node_id=s.node("leaf"), project_env=PROD, scheduler_type=2
    )
    assert body.success is True and s.world.backend.get_node("leaf").frozen
    body = s.call(V2020, "OfflineNode", node_id=s.node("leaf"), project_id=s.project)
    assert body.success == "true"  # a string in the SDK's model
    assert s.world.backend.get_node("leaf").state == "undeployed"


@case(CASES_2020, "RunCycleDagNodes", "GetDag", "ListDags")
def _backfill_2020(s: Scene) -> None:
    dags = s.call(
        V2020,
        "RunCycleDagNodes",
        name="redo ok",
        project_env=PROD,
        root_node_id=s.node("ok"),
        include_node_ids=str(s.node("ok")),
        start_biz_date="2025-10-29 00:00:00",
        end_biz_date="2025-10-30 00:00:00",
        parallelism=False,
        biz_begin_time="00:00:00",
        biz_end_time="23:59:59",
    ).data
    assert len(dags) == 2 and all(isinstance(d, int) for d in dags)
    dag = s.call(V2020, "GetDag", dag_id=dags[0], project_env=PROD).data
    assert (dag.dag_id, dag.type, dag.name) == (dags[0], "SUPPLY_DATA", "redo ok")
    listed = s.call(V2020, "ListDags", op_seq=dag.op_seq, project_env=PROD).data
    assert sorted(d.dag_id for d in listed.dags) == sorted(dags)


@case(CASES_2020, "RunSmokeTest")
def _test_run_2020(s: Scene) -> None:
    dag = s.call(
        V2020,
        "RunSmokeTest",
        name="try the fix",
        node_id=s.node("ok"),
        bizdate=f"{RUN_DAY} 00:00:00",
        project_env=PROD,
    ).data
    assert isinstance(dag, int)
    [instance] = s.call(
        V2020,
        "ListInstances",
        project_id=s.project,
        project_env=PROD,
        bizdate=f"{RUN_DAY} 00:00:00",
        dag_id=dag,
    ).data.instances
    assert (instance.node_id, instance.dag_id, instance.dag_type) == (
        s.node("ok"),
        dag,
        "SMOKE_TEST",
    )
    run = s.settled([instance.instance_id])["ok"]
    assert (run.kind, run.bizdate, run.status) == (InstanceKind.TEST, RUN_DAY, Status.SUCCESS)


@case(CASES_2020, "RunManualDagNodes", "ListManualDagInstances")
def _manual_runs_2020(s: Scene) -> None:
    key = {"project_name": "ws", "project_env": PROD}

    def run(**nodes: Any) -> dict[str, InstanceInfo]:
        dag = s.call(
            V2020,
            "RunManualDagNodes",
            flow_name="export",
            biz_date=f"{RUN_DAY} 00:00:00",
            **nodes,
            **key,
        ).dag_id
        assert isinstance(dag, int)
        rows = s.call(V2020, "ListManualDagInstances", dag_id=str(dag), **key).instances
        assert [(r.dag_id, r.dag_type) for r in rows] == [(dag, "MANUAL_FLOW")] * len(rows)
        by_name = s.settled([r.instance_id for r in rows])
        assert {r.node_name: r.node_id for r in rows} == {n: s.node(n) for n in by_name}
        return by_name

    whole = run()
    assert set(whole) == {"extract", "publish"}
    assert all(
        (i.kind, i.bizdate, i.status) == (InstanceKind.MANUAL, RUN_DAY, Status.SUCCESS)
        for i in whole.values()
    )
    chosen = run(include_node_ids=str(s.node("extract")))
    assert {n: i.kind for n, i in chosen.items()} == {"extract": InstanceKind.MANUAL}


@case(CASES_2020, "GetProject")
def _get_project_2020(s: Scene) -> None:
    data = s.call(V2020, "GetProject", project_id=s.project).data
    assert (data.project_id, data.project_identifier, data.env_types) == (s.project, "ws", [PROD])


@case(CASES_2020, "GetInstanceStatusCount", "TopTenErrorTimesInstance")
def _dashboard_2020(s: Scene) -> None:
    counts = s.call(
        V2020,
        "GetInstanceStatusCount",
        project_id=s.project,
        project_env=PROD,
        biz_date="2025-10-31",
    ).status_count
    assert (counts.failure_count, counts.success_count) == (1, 2)  # failed; root and ok
    ranks = s.call(V2020, "TopTenErrorTimesInstance", project_id=s.project)
    [rank] = ranks.instance_error_rank.error_rank
    assert (rank.node_name, rank.count) == ("failed", 1)


@case(CASES_2020, "ListBaselines", "GetBaseline")
def _baselines(s: Scene) -> None:
    data = s.call(V2020, "ListBaselines", project_id=s.project, page_number=1, page_size=10).data
    assert (data.page_number, data.page_size, data.total_count) == ("1", "10", "2")
    by_name = {b.baseline_name: b for b in data.baselines}
    morning = by_name["morning"]
    assert (morning.baseline_type, morning.alert_margin_threshold) == ("DAILY", 30)
    assert [(o.cycle, o.time) for o in morning.over_time_settings] == [(1, "06:00")]
    one = s.call(V2020, "GetBaseline", baseline_id=morning.baseline_id, project_id=s.project)
    assert one.data.node_ids == [s.node("blocked")]


@case(
    CASES_2020,
    "ListBaselineStatuses",
    "GetBaselineStatus",
    "GetBaselineKeyPath",
)
def _baseline_statuses(s: Scene) -> None:
    day = {"bizdate": "2025-10-31T00:00:00Z"}
    data = s.call(V2020, "ListBaselineStatuses", page_number=1, page_size=10, **day).data
    statuses = {b.baseline_name: b for b in data.baseline_statuses}
    # DataWorks' spelling of a warning: soon is predicted inside its margin, morning
    # waits on a failure
    assert {n: b.status for n, b in statuses.items()} == {"morning": "DANGROUS", "soon": "DANGROUS"}
    key = {"baseline_id": statuses["morning"].baseline_id, "in_group_id": 1, **day}
    status = s.call(V2020, "GetBaselineStatus", **key).data
    assert (status.status, status.last_instance.node_name) == ("DANGROUS", "failed")
    path = s.call(V2020, "GetBaselineKeyPath", **key).data
    assert [p.node_name for p in path][-1] == "blocked"
    assert all(isinstance(r.status, str) for p in path for r in p.runs)


@case(CASES_2020, "ListTopics", "GetTopicInfluence", "ListAlertMessages")
def _events_and_alerts(s: Scene) -> None:
    topics = s.call(V2020, "ListTopics", page_number=1, page_size=10, **WINDOW).data.topics
    [topic] = [t for t in topics if t.topic_type == "ERROR"]
    assert (topic.node_name, topic.instance_id) == ("failed", s.instance("failed"))
    [influence] = s.call(V2020, "GetTopicInfluence", topic_id=topic.topic_id).data.influences
    assert (influence.baseline_name, influence.in_group_id) == ("morning", 1)
    data = s.call(V2020, "ListAlertMessages", page_number=1, page_size=10, **WINDOW).data
    assert (data.page_number, data.page_size, data.total_count) == ("1", "10", "1")
    [message] = data.alert_messages
    assert message.remind_name == "failed_job" and isinstance(message.alert_id, int)
    assert message.instances[0].instance_id == s.instance("failed")


@pytest.mark.parametrize("actions", list(CASES_2020))
def test_2020_operations_through_the_sdk(scene: Scene, actions: str) -> None:
    CASES_2020[actions](scene)


def test_a_wrong_type_parses_untyped_and_the_walk_catches_it() -> None:
    """``from_map`` takes an int where the model says str (so the walk must look), and
    raises only where a nested model gets something that is not a map."""
    body = m24.GetTaskResponseBody().from_map(
        {"RequestId": "r", "Task": {"Id": 7, "Dependencies": [{"UpstreamTaskId": 3}]}}
    )
    assert body.task.dependencies[0].upstream_task_id == 3  # parsed, untyped
    assert type_errors(body) == ["body.task.dependencies[0].upstream_task_id: 3 is not a str"]
    typed = m24.GetTaskResponseBody().from_map(
        {"RequestId": "r", "Task": {"Id": 7, "Dependencies": [{"UpstreamTaskId": "3"}]}}
    )
    assert type_errors(typed) == []
    with pytest.raises(AttributeError):
        m24.GetTaskResponseBody().from_map({"RequestId": "r", "Task": 7})
    paging = m20.ListBaselinesResponseBody().from_map({"Data": {"PageNumber": 1}})
    assert type_errors(paging) == ["body.data.page_number: 1 is not a str"]
    sent = {"Data": {"PageNumber": "1", "Spelt": "x"}}
    parsed = m20.ListBaselinesResponseBody().from_map(sent).to_map()
    assert unknown_fields(sent, parsed) == ["body.Data.Spelt"]
