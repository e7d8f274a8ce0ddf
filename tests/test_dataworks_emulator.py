"""The DataWorks API emulator over real HTTP on 127.0.0.1, called by our client and by
requests signed here by hand (V3 and V2, straight from spec 2.4/2.5), so the emulator is
checked against the wire rules rather than against the code that signs for it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import ApiError, Credentials, DataWorksClient
from opscenter.backends.dataworks.emulator import (
    Emulator,
    EmulatorServer,
    Verifier,
    credentials_from,
)
from opscenter.backends.dataworks.legacy import LegacyBackend
from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from tests.harness import MakeWorld, World, at

KEY_ID = "LTAI5tEmulatorKey"
SECRET = "emulator-Secret-Value"


@contextmanager
def serving(world: World) -> Iterator[str]:
    """A world's store served over the DataWorks wire format on 127.0.0.1: its URL."""
    served = LocalBackend(world.store, "ws", world.clock, user="alice", source="emulator")
    httpd = EmulatorServer(("127.0.0.1", 0), Emulator(served, Verifier({KEY_ID: SECRET})))
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield httpd.url
    finally:
        httpd.shutdown()
        httpd.server_close()


# A DataWorks test runs over both API versions: a workspace on the new Data Studio and one
# on the old DataStudio must read and act the same (``@pytest.fixture(**API_VERSIONS)``).
API_VERSIONS = {"params": [DataWorksBackend, LegacyBackend], "ids": ["2024-05-18", "2020-05-18"]}


def make(
    client: DataWorksClient,
    world: World,
    tmp_path: Path,
    kind: type[DataWorksBackend] = DataWorksBackend,
    **options,  # noqa: ANN003
) -> DataWorksBackend:
    """bob's DataWorks backend (of either API version) for ``world`` through ``client``."""
    options.setdefault("timezone", "UTC")
    return kind(
        client,
        world.workspace_id,
        clock=world.clock,
        user="bob",
        audit_path=tmp_path / "audit.jsonl",
        **options,
    )


@contextmanager
def over_dataworks(
    world: World, kind: type[DataWorksBackend], tmp_path: Path, timezone: str = "UTC"
) -> Iterator[DataWorksBackend]:
    """The DataWorks backend (of either API version) over real HTTP to that world."""
    with serving(world) as url, DataWorksClient(Credentials(KEY_ID, SECRET), url) as client:
        yield make(client, world, tmp_path, kind, timezone=timezone)


BIZDATE_MS = int(datetime(2025, 10, 31, tzinfo=UTC).timestamp() * 1000)
ERROR_KEYS = {"RequestId", "HostId", "Code", "Message", "Recommend"}

WORKSPACE = """
    nodes:
      - {name: ok, type: shell, code: "echo hello from ok", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "exit 1", trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
""" + "".join(
    f'      - {{name: v{i:02}, type: virtual, trigger: {{cron: "00 00 06 * * ?"}}}}\n'
    for i in range(8)
)


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 02:00: ok succeeded, failed failed, blocked waits on it, later and v* wait for time."""
    w = world(WORKSPACE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    return w


@pytest.fixture
def server(scene: World) -> Iterator[EmulatorServer]:
    backend = LocalBackend(scene.store, "ws", scene.clock, user="alice", source="emulator")
    emulator = Emulator(backend, Verifier({KEY_ID: SECRET}))
    httpd = EmulatorServer(("127.0.0.1", 0), emulator)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[DataWorksClient]:
    with DataWorksClient(Credentials(KEY_ID, SECRET), server.url) as dw:
        yield dw


def project(scene: World) -> int:
    return scene.workspace_id


def api_error(call) -> ApiError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


# -- signing by hand (spec 2.4 and 2.5), independent of opscenter's signer ----------------


def enc(text: str) -> str:
    return quote(text, safe="-_.~")


def v3_request(
    url: str,
    action: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = "application/x-www-form-urlencoded",
    secret: str = SECRET,
    when: datetime | None = None,
    nonce: str | None = None,
    version: str = "2024-05-18",
) -> httpx.Request:
    """A request signed step by step from spec 2.4."""
    host = httpx.URL(url).netloc.decode()
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": stamp,
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if body and content_type:
        headers["content-type"] = content_type
    canonical_query = "&".join(f"{k}={enc(v)}" for k, v in sorted((query or {}).items()))
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            canonical_query,
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            headers["x-acs-content-sha256"],
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={';'.join(names)},"
        f"Signature={signature}"
    )
    target = f"{url}/" + (f"?{canonical_query}" if canonical_query else "")
    return httpx.Request("POST", target, headers=headers, content=body)


def send(request: httpx.Request) -> httpx.Response:
    with httpx.Client() as http:
        return http.send(request)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    body = response.json()
    assert response.status_code == status, body
    assert set(body) >= ERROR_KEYS
    assert body["Code"] == code
    assert body["RequestId"] and "Traceback" not in body["Message"]
    return body


# -- lists and reading ------------------------------------------------------------------------


def test_a_listed_page_carries_paging_info(client: DataWorksClient, scene: World) -> None:
    answer = client.call(
        "ListTaskInstances",
        {"ProjectId": project(scene), "Bizdate": BIZDATE_MS, "PageSize": 3, "SortBy": "Id Asc"},
    )
    page = answer["PagingInfo"]
    assert answer["RequestId"]
    assert (page["PageNumber"], page["PageSize"]) == (1, 3)
    assert page["TotalCount"] == 13  # root + 12 nodes
    assert [i["Id"] for i in page["TaskInstances"]] == sorted(
        i["Id"] for i in page["TaskInstances"]
    )
    failed = client.call(
        "ListTaskInstances",
        {"ProjectId": project(scene), "Bizdate": BIZDATE_MS, "Status": "Failure"},
    )["PagingInfo"]["TaskInstances"]
    assert [(i["TaskName"], i["Status"], i["Bizdate"]) for i in failed] == [
        ("failed", "Failure", BIZDATE_MS)
    ]
    assert failed[0]["TriggerTime"] == int(at(0, 30).timestamp() * 1000)


def test_a_list_longer_than_a_page_is_read_whole(client: DataWorksClient, scene: World) -> None:
    items = list(
        client.iter_items(
            "ListTaskInstances",
            "TaskInstances",
            {"ProjectId": project(scene), "Bizdate": BIZDATE_MS},
            page_size=4,
        )
    )
    assert len(items) == 13 and len({i["Id"] for i in items}) == 13
    tasks = list(
        client.iter_items("ListTasks", "Tasks", {"ProjectId": project(scene)}, page_size=5)
    )
    assert {"ok", "failed", "v07"} <= {t["Name"] for t in tasks}


def test_get_task_and_its_downstream(client: DataWorksClient, scene: World) -> None:
    failed_id = scene.instance("failed").node_id
    task = client.call("GetTask", {"Id": failed_id}, method="GET")["Task"]
    assert (task["Name"], task["Type"], task["Trigger"]["Cron"]) == (
        "failed",
        "DIDE_SHELL",
        "00 30 00 * * ?",
    )
    down = client.call("ListDownstreamTasks", {"Id": failed_id}, method="GET")["PagingInfo"]
    assert [d["Task"]["Name"] for d in down["DownstreamTasks"]] == ["blocked"]


def test_get_instance_and_its_log(client: DataWorksClient, scene: World) -> None:
    ok = scene.instance("ok")
    instance = client.call("GetTaskInstance", {"Id": ok.id}, method="GET")["TaskInstance"]
    assert (instance["Id"], instance["TaskName"], instance["Status"]) == (ok.id, "ok", "Success")
    assert instance["StartedTime"] <= instance["FinishedTime"]
    log = client.call("GetTaskInstanceLog", {"Id": ok.id, "RunNumber": 1}, method="GET")
    assert "hello from ok" in log["TaskInstanceLog"]


def test_upstream_instances(client: DataWorksClient, scene: World) -> None:
    blocked = scene.instance("blocked")
    up = client.call("ListUpstreamTaskInstances", {"Id": blocked.id}, method="GET")
    rows = up["PagingInfo"]["UpstreamTaskInstances"]
    assert [(r["DependencyType"], r["TaskInstance"]["TaskName"]) for r in rows] == [
        ("Normal", "failed")
    ]


# -- actions ----------------------------------------------------------------------------------


def test_partial_batch_failure_is_reported_per_id(client: DataWorksClient, scene: World) -> None:
    failed, later = scene.instance("failed"), scene.instance("later")
    answer = client.call("RerunTaskInstances", {"Ids": [failed.id, later.id]})
    info = answer["SuccessInfo"]
    assert info[str(failed.id)]["Success"] is True
    assert info[str(later.id)]["Success"] is False and info[str(later.id)]["Message"]
    assert scene.status("failed") is not Status.FAILURE
    audit = [e for e in scene.backend.audit_log() if e.action == "rerun"]
    assert {e.source for e in audit} == {"emulator"}


def test_suspend_and_resume_map_to_freeze(client: DataWorksClient, scene: World) -> None:
    later = scene.instance("later")
    client.call("SuspendTaskInstances", {"Ids": [later.id]})
    frozen = client.call("GetTaskInstance", {"Id": later.id}, method="GET")["TaskInstance"]
    assert (frozen["Status"], frozen["TriggerRecurrence"]) == ("NotRun", "Pause")
    client.call("ResumeTaskInstances", {"Ids": [later.id]})
    assert scene.status("later") is not Status.FROZEN


def backfill(client: DataWorksClient, scene: World, node: str, mode: str, first: str) -> int:
    """CreateWorkflowInstances (SupplementData) of ``node`` from ``first`` to 2025-10-29,
    polled until created; the new backfill's id."""
    answer = client.call(
        "CreateWorkflowInstances",
        {
            "Name": "refill",
            "ProjectId": project(scene),
            "Type": "SupplementData",
            "WorkflowId": 1,
            "Periods": {"BizDates": [{"StartBizDate": first, "EndBizDate": "2025-10-29"}]},
            "DefaultRunProperties": {
                "Mode": mode,
                "RootTaskIds": [scene.instance(node).node_id],
                "Parallelism": 1,
                "Analysis": {"Enabled": False, "Blocked": False},
            },
        },
    )
    result = client.call(
        "GetCreateWorkflowInstancesResult", {"OperationId": answer["OperationId"]}, method="GET"
    )["Result"]
    assert result["Status"] == "Created"
    (backfill_id,) = result["WorkflowInstanceIds"]
    return backfill_id


def test_backfill_creates_and_is_polled(client: DataWorksClient, scene: World) -> None:
    backfill_id = backfill(client, scene, "ok", "General", "2025-10-28")
    scene.idle()  # the scheduler makes the backfill's instances
    made = client.call(
        "ListTaskInstances",
        {"ProjectId": project(scene), "WorkflowInstanceId": backfill_id},
    )["PagingInfo"]["TaskInstances"]
    assert len(made) == 2 and {i["WorkflowInstanceType"] for i in made} == {"SupplementData"}


def test_stopping_a_backfill_leaves_what_waits_on_its_failed_upstream(
    client: DataWorksClient, scene: World
) -> None:
    """The backfill of ``failed`` with its downstream: the root fails, ``blocked`` waits on
    it. Stopping the workflow instance is not refused for the waiting one."""
    backfill_id = backfill(client, scene, "failed", "AllDownstream", "2025-10-29")
    scene.idle()
    made = scene.backend.list_instances(InstanceFilter(backfill_id=backfill_id)).items
    assert {i.node: i.status for i in made} == {
        "failed": Status.FAILURE,
        "blocked": Status.NOT_RUN,
    }
    stopped = client.call("StopWorkflowInstances", {"Ids": [backfill_id]})["SuccessInfo"]
    assert stopped[str(backfill_id)]["Success"] is True, stopped
    assert "nothing left to stop" in stopped[str(backfill_id)]["Message"]


def test_legacy_baseline_free_workspace_and_instances(
    client: DataWorksClient, scene: World
) -> None:
    answer = client.call(
        "ListInstances",
        {"ProjectId": project(scene), "ProjectEnv": "PROD", "Bizdate": "2025-10-31 00:00:00"},
        version="2020-05-18",
    )
    assert answer["Success"] is True and answer["HttpStatusCode"] == 200
    assert answer["Data"]["TotalCount"] == 13
    statuses = client.call(
        "ListBaselineStatuses",
        {"Bizdate": "2025-10-31T00:00:00Z", "PageNumber": 1, "PageSize": 10},
        version="2020-05-18",
    )
    assert statuses["Data"]["BaselineStatuses"] == []


def test_legacy_top_ten_error_times(client: DataWorksClient, scene: World) -> None:
    answer = client.call(
        "TopTenErrorTimesInstance", {"ProjectId": project(scene)}, version="2020-05-18"
    )
    assert answer["Success"] is True and answer["HttpStatusCode"] == 200
    failed = scene.instance("failed")
    assert answer["InstanceErrorRank"]["ErrorRank"] == [
        {"NodeId": failed.node_id, "NodeName": "failed", "Owner": failed.owner, "Count": 1}
    ]


# -- the gateway's checks ---------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match(server: EmulatorServer) -> None:
    with DataWorksClient(Credentials(KEY_ID, "not-the-secret"), server.url) as wrong:
        error = api_error(lambda: wrong.call("ListTasks", {"ProjectId": 1}))
    assert (error.status, error.code) == (400, "SignatureDoesNotMatch")
    assert error.request_id
    response = send(v3_request(server.url, "ListTasks", body=b"ProjectId=1", secret="nope"))
    body = assert_error(response, 400, "SignatureDoesNotMatch")
    assert body["HostId"] == httpx.URL(server.url).netloc.decode()


def test_unknown_access_key(server: EmulatorServer) -> None:
    with DataWorksClient(Credentials("LTAIunknown", SECRET), server.url) as stranger:
        error = api_error(lambda: stranger.call("ListTasks", {"ProjectId": 1}))
    assert (error.status, error.code) == (404, "InvalidAccessKeyId.NotFound")


def test_reused_nonce_is_refused(server: EmulatorServer, scene: World) -> None:
    nonce = uuid.uuid4().hex
    body = f"ProjectId={project(scene)}".encode()
    first = send(v3_request(server.url, "ListTasks", body=body, nonce=nonce))
    assert first.status_code == 200 and first.json()["RequestId"]
    again = send(v3_request(server.url, "ListTasks", body=body, nonce=nonce))
    assert_error(again, 400, "SignatureNonceUsed")


def test_sixteen_minutes_of_clock_skew_is_refused(server: EmulatorServer, scene: World) -> None:
    body = f"ProjectId={project(scene)}".encode()
    for skew in (timedelta(minutes=-16), timedelta(minutes=16)):
        request = v3_request(server.url, "ListTasks", body=body, when=datetime.now(UTC) + skew)
        assert_error(send(request), 400, "InvalidTimeStamp.Expired")
    within = datetime.now(UTC) - timedelta(minutes=14)
    assert send(v3_request(server.url, "ListTasks", body=body, when=within)).status_code == 200


def test_unknown_action_and_version(client: DataWorksClient, server: EmulatorServer) -> None:
    error = api_error(lambda: client.call("DescribeEverything", {}))
    assert (error.status, error.code) == (404, "InvalidApi.NotFound")
    response = send(v3_request(server.url, "ListTasks", version="2019-01-01"))
    assert_error(response, 400, "NoSuchVersion")


def test_malformed_requests_get_the_error_shape(
    client: DataWorksClient, server: EmulatorServer
) -> None:
    error = api_error(lambda: client.call("RerunTaskInstances", {"Ids": "[1,"}))
    assert (error.status, error.code) == (400, "InvalidParameter")
    error = api_error(lambda: client.call("GetTaskInstance", {"Id": "abc"}, method="GET"))
    assert (error.status, error.code) == (400, "InvalidParameter")
    error = api_error(lambda: client.call("GetTaskInstance", {}, method="GET"))
    assert (error.status, error.code) == (400, "MissingParameter")
    assert_error(
        send(v3_request(server.url, "ListTasks", body=b"\xff\xfe=\x00")), 400, "InvalidParameter"
    )
    assert_error(
        send(v3_request(server.url, "ListTasks", body=b"{}", content_type="application/json")),
        400,
        "InvalidParameter",
    )
    unsigned = httpx.post(f"{server.url}/", content=b"garbage", headers={"x-acs-action": "X"})
    assert unsigned.status_code < 500 and set(unsigned.json()) >= ERROR_KEYS


def test_a_refused_action_in_a_single_operation(client: DataWorksClient, scene: World) -> None:
    ok = scene.instance("ok")
    error = api_error(
        lambda: client.call(
            "SetSuccessInstance", {"InstanceId": ok.id, "ProjectEnv": "PROD"}, version="2020-05-18"
        )
    )
    assert (error.status, error.code) == (400, "OperationDenied")


def test_an_unexpected_exception_is_internal_error_without_traceback(
    client: DataWorksClient, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_params: object) -> dict:
        raise RuntimeError("secret internals")

    monkeypatch.setitem(server.emulator.operations.table, ("2024-05-18", "ListTasks"), boom)
    response = send(v3_request(server.url, "ListTasks", body=b"ProjectId=1"))
    body = assert_error(response, 500, "InternalError.System")
    assert "secret internals" not in body["Message"]


# -- any correct signer is accepted ---------------------------------------------------------


def test_a_request_signed_by_hand_with_v3_is_accepted(server: EmulatorServer, scene: World) -> None:
    query = {"Name": "o k*~", "ProjectId": str(project(scene))}  # space, * and ~ in the query
    response = send(v3_request(server.url, "ListTasks", query=query))
    assert response.status_code == 200, response.json()
    assert response.json()["PagingInfo"]["TotalCount"] == 0
    form = urlencode({"ProjectId": project(scene), "Name": "ok"}).encode()
    response = send(v3_request(server.url, "ListTasks", body=form))
    assert [t["Name"] for t in response.json()["PagingInfo"]["Tasks"]] == ["ok"]


def test_a_request_signed_by_hand_with_v2_is_accepted(server: EmulatorServer, scene: World) -> None:
    """Spec 2.5: common params in the query, business params in the body, HMAC-SHA1."""
    query = {
        "Action": "GetTaskInstance",
        "Version": "2024-05-18",
        "Format": "json",
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": KEY_ID,
    }
    form = {"Id": str(scene.instance("ok").id)}
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted({**query, **form}.items()))
    to_sign = f"POST&{enc('/')}&{enc(canonical)}"
    digest = hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(digest).decode()
    response = httpx.post(
        f"{server.url}/?{urlencode(query)}",
        content=urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["TaskInstance"]["TaskName"] == "ok"
    query["Signature"] = base64.b64encode(b"x" * 20).decode()
    query["SignatureNonce"] = uuid.uuid4().hex
    forged = httpx.post(
        f"{server.url}/?{urlencode(query)}",
        content=urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(forged, 400, "SignatureDoesNotMatch")


def test_credentials_come_from_options_or_environment() -> None:
    assert credentials_from("id", "s", {}) == {"id": "s"}
    env = {"OPSCENTER_EMULATOR_ACCESS_KEY_ID": "e", "OPSCENTER_EMULATOR_ACCESS_KEY_SECRET": "x"}
    assert credentials_from(None, None, env) == {"e": "x"}
    with pytest.raises(ValueError, match="--access-key-id"):
        credentials_from(None, None, {})


def test_emulate_refuses_to_start_without_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPSCENTER_EMULATOR_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("OPSCENTER_EMULATOR_ACCESS_KEY_SECRET", raising=False)
    assert main(["emulate", "--workspace", "nowhere", "--port", "0"]) == 2
    assert "OPSCENTER_EMULATOR_ACCESS_KEY_ID" in capsys.readouterr().err


def test_legacy_topics_and_alert_messages_need_a_window(client: DataWorksClient) -> None:
    window = {"BeginTime": "2025-10-01T00:00:00Z", "EndTime": "2025-11-02T00:00:00Z"}
    for action, key in (("ListTopics", "Topics"), ("ListAlertMessages", "AlertMessages")):
        answer = client.call(
            action, {**window, "PageNumber": 1, "PageSize": 10}, version="2020-05-18"
        )
        paging = (1, 10, 0) if key == "Topics" else ("1", "10", "0")  # as the SDK declares
        assert answer["Data"] == dict(
            zip(("PageNumber", "PageSize", "TotalCount"), paging, strict=True)
        ) | {key: []}
        error = api_error(
            lambda action=action: client.call(
                action, {"EndTime": window["EndTime"]}, version="2020-05-18"
            )
        )
        assert error.code == "MissingParameter" and "BeginTime" in error.message
    error = api_error(
        lambda: client.call(
            "ListTopics", {**window, "NodeId": 1, "InstanceId": 2}, version="2020-05-18"
        )
    )
    assert error.code == "InvalidParameter"
