"""The DataWorks client over real HTTP on 127.0.0.1 against a small fake of Alibaba's gateway.

The fake verifies every request's ACS3 signature with the signer's pure pieces and a
known secret, refuses reused nonces, and answers with the spec's shapes (2.6, 2.7);
each test scripts the operations it needs.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from opscenter.backends.dataworks import signer
from opscenter.backends.dataworks.client import (
    ApiError,
    Credentials,
    CredentialsError,
    DataWorksClient,
    DataWorksError,
    RetryPolicy,
    load_credentials,
    region_endpoint,
    serialize,
)

KEY_ID = "LTAI5tTestKeyId"
SECRET = "s3cret-Value-Never-Shown"
TOKEN = "sts-Token-Never-Shown"
HOST_ID = "dataworks.cn-shanghai.aliyuncs.com"
REQUIRED_SIGNED = {
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
}


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    action: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


Reply = tuple[int, dict | bytes, dict[str, str]]
Route = Callable[[Seen], Reply]


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """The gateway's error body (spec 2.6)."""
    body = {
        "RequestId": str(uuid.uuid4()).upper(),
        "HostId": HOST_ID,
        "Code": code,
        "Message": message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
    }
    return status, body, headers or {}


def ok(**fields: object) -> Reply:
    return 200, {"RequestId": str(uuid.uuid4()).upper(), **fields}, {}


class FakeDataWorks(ThreadingHTTPServer):
    """Plays DataWorks for the tests: verify, record, then answer from ``routes``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self._nonces: set[str] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        refusal = self._verify(method, query, headers, body)
        if refusal:
            return refusal
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else {}
        seen = Seen(method, headers["x-acs-action"], query, form, headers, body)
        with self._lock:
            self.seen.append(seen)
        route = self.routes.get(seen.action)
        if route is None:
            return error(404, "InvalidApi.NotFound", f"Specified api is not found: {seen.action}")
        return route(seen)

    def _verify(
        self, method: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply | None:
        try:
            key_id, names, sig = signer.parse_authorization(headers.get("authorization", ""))
        except ValueError as exc:
            return error(400, "IncompleteSignature", str(exc))
        if key_id != KEY_ID:
            return error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not set(names) >= REQUIRED_SIGNED:
            return error(400, "MissingParameter", "required headers are not signed")
        if headers["x-acs-content-sha256"] != signer.hashed_payload(body):
            return error(400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match")
        signed = {name: headers.get(name, "") for name in names}
        canonical = signer.canonical_request(method, "/", query, signed, body)
        expected = signer.signature(SECRET, signer.string_to_sign(canonical))
        if not hmac.compare_digest(expected, sig):
            return error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        with self._lock:
            nonce = headers["x-acs-signature-nonce"]
            if nonce in self._nonces:
                return error(400, "SignatureNonceUsed", "Specified signature nonce was used.")
            self._nonces.add(nonce)
        return None


class _Handler(BaseHTTPRequestHandler):
    server: FakeDataWorks

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload, extra = self.server.answer(self.command, self.path, headers, body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json;charset=utf-8")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (the timeout test)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server() -> Iterator[FakeDataWorks]:
    fake = FakeDataWorks()
    thread = threading.Thread(target=fake.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


FAST = RetryPolicy(max_attempts=4, base_sleep=0.5, max_sleep=10.0)


def client_for(
    server: FakeDataWorks,
    sleeps: list[float],
    *,
    secret: str = SECRET,
    token: str | None = None,
    retry: RetryPolicy = FAST,
    timeout: float = 2.0,
) -> DataWorksClient:
    return DataWorksClient(
        Credentials(KEY_ID, secret, token),
        server.endpoint,
        retry=retry,
        sleep=sleeps.append,
        timeout=timeout,
    )


def scripted(*replies: Reply) -> Route:
    """Answer with each reply in turn, then keep repeating the last."""
    queue = list(replies)

    def route(_: Seen) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


def paged(items: list[dict], key: str, container: str, cap: int, total: bool = True) -> Route:
    """Serve ``items`` page by page, never more than ``cap`` per page whatever is asked."""

    def route(seen: Seen) -> Reply:
        number = int(seen.params["PageNumber"])
        size = min(int(seen.params["PageSize"]), cap)
        page: dict[str, object] = {
            "PageNumber": str(number),
            "PageSize": str(size),
            key: items[(number - 1) * size : number * size],
        }
        if total:
            page["TotalCount"] = str(len(items))
        return ok(**{container: page})

    return route


# -- request building -------------------------------------------------------------------


def test_get_puts_params_in_a_signed_query(server: FakeDataWorks, sleeps: list[float]) -> None:
    server.routes["GetTask"] = lambda seen: ok(Task={"Id": int(seen.params["Id"])})
    with client_for(server, sleeps) as client:
        name = "daily sales*~v2 [x],(y) é"
        answer = client.call("GetTask", {"Id": 7, "Name": name}, method="GET")
    assert answer["Task"] == {"Id": 7}
    (seen,) = server.seen
    assert (seen.method, seen.query, seen.form, seen.body) == (
        "GET",
        {"Id": "7", "Name": name},
        {},
        b"",
    )
    assert seen.headers["x-acs-version"] == "2024-05-18"
    assert "content-type" not in seen.headers
    assert re.fullmatch(r"[0-9a-f]{32}", seen.headers["x-acs-signature-nonce"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", seen.headers["x-acs-date"])


def test_post_sends_a_form_body_with_json_fields(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    server.routes["CreateWorkflowInstances"] = lambda seen: ok(OperationId="op-1")
    params = {
        "Name": "backfill, again",
        "Periods": {"BizDates": [{"StartBizDate": "2025-01-01", "EndBizDate": "2025-01-03"}]},
        "Ids": [1001, 1002],
        "AutoStartEnabled": True,
        "Comment": None,
    }
    with client_for(server, sleeps) as client:
        assert client.call("CreateWorkflowInstances", params)["OperationId"] == "op-1"
    (seen,) = server.seen
    assert seen.method == "POST"
    assert seen.query == {}
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "AutoStartEnabled": "true",
        "Ids": "[1001,1002]",
        "Name": "backfill, again",
        "Periods": '{"BizDates":[{"StartBizDate":"2025-01-01","EndBizDate":"2025-01-03"}]}',
    }
    assert seen.body.startswith(b"AutoStartEnabled=true&Ids=%5B1001%2C1002%5D&Name=backfill%2C+")


def test_post_query_params_and_an_empty_body(server: FakeDataWorks, sleeps: list[float]) -> None:
    """The spec's ``[q]`` parameters travel in the query; no body means no content-type."""
    server.routes["DeleteTask"] = lambda seen: ok(Success=True)
    server.routes["GetProject"] = lambda seen: ok(Data={"ProjectId": 9})
    with client_for(server, sleeps) as client:
        client.call("DeleteTask", query={"Id": 5, "ProjectEnv": "Prod"})
        client.call(
            "GetProject", {"Status": "Available"}, query={"ProjectId": 9}, version="2020-05-18"
        )
    delete, get_project = server.seen
    assert (delete.query, delete.body) == ({"Id": "5", "ProjectEnv": "Prod"}, b"")
    assert "content-type" not in delete.headers
    assert (get_project.query, get_project.form) == ({"ProjectId": "9"}, {"Status": "Available"})
    assert get_project.headers["x-acs-version"] == "2020-05-18"


def test_security_token_is_sent_and_signed(server: FakeDataWorks, sleeps: list[float]) -> None:
    server.routes["GetTask"] = lambda seen: ok()
    with client_for(server, sleeps, token=TOKEN) as client:
        client.call("GetTask", {"Id": 1}, method="GET")
    (seen,) = server.seen
    assert seen.headers["x-acs-security-token"] == TOKEN
    _, names, _ = signer.parse_authorization(seen.headers["authorization"])
    assert "x-acs-security-token" in names


def test_concurrent_calls_from_worker_threads(server: FakeDataWorks, sleeps: list[float]) -> None:
    server.routes["GetTask"] = lambda seen: ok(Task={"Id": int(seen.params["Id"])})
    with client_for(server, sleeps) as client:
        results: dict[int, int] = {}

        def fetch(task_id: int) -> None:
            results[task_id] = client.call("GetTask", {"Id": task_id}, method="GET")["Task"]["Id"]

        threads = [threading.Thread(target=fetch, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {n: n for n in range(8)}
    assert len({seen.headers["x-acs-signature-nonce"] for seen in server.seen}) == 8


# -- errors -----------------------------------------------------------------------------


def test_wrong_secret_gets_signature_does_not_match_without_leaking_it(
    server: FakeDataWorks, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-Secret-Value-42"
    caplog.set_level(logging.DEBUG)
    with client_for(server, sleeps, secret=wrong, token=TOKEN) as client:
        with pytest.raises(ApiError) as caught:
            client.call("ListTasks", {"ProjectId": 1})
        shown = [str(caught.value), repr(caught.value), repr(client), caplog.text]
    err = caught.value
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 400)
    assert err.request_id
    assert str(err) == (
        "SignatureDoesNotMatch: Specified signature is not matched with our calculation. "
        f"(request id {err.request_id})"
    )
    assert sleeps == []
    for text in shown:
        assert wrong not in text
        assert TOKEN not in text


def test_a_token_echoed_by_the_server_is_scrubbed(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    server.routes["GetTask"] = lambda seen: error(
        400, "InvalidSecurityToken.Malformed", f"bad token {seen.headers['x-acs-security-token']}"
    )
    with client_for(server, sleeps, token=TOKEN) as client, pytest.raises(ApiError) as caught:
        client.call("GetTask", {"Id": 1}, method="GET")
    assert caught.value.message == "bad token ***"
    assert TOKEN not in repr(caught.value)


def test_business_error_is_raised_with_its_fields(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    server.routes["ListTaskInstances"] = scripted(
        error(400, "InvalidParameter", "Bizdate is not a valid timestamp")
    )
    with client_for(server, sleeps) as client, pytest.raises(ApiError) as caught:
        client.call("ListTaskInstances", {"ProjectId": 1, "Bizdate": "yesterday"})
    err = caught.value
    assert (err.code, err.message, err.status) == (
        "InvalidParameter",
        "Bizdate is not a valid timestamp",
        400,
    )
    assert str(err) == (
        f"InvalidParameter: Bizdate is not a valid timestamp (request id {err.request_id})"
    )
    assert len(server.seen) == 1
    assert sleeps == []


def test_success_false_in_a_200_answer_is_an_error(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    """2020-05-18 style: HTTP 200 whose body says it failed."""
    server.routes["GetBaseline"] = lambda seen: ok(
        Success=False,
        HttpStatusCode=400,
        ErrorCode="Invalid.Baseline.NotExist",
        ErrorMessage="baseline 42 does not exist",
    )
    with client_for(server, sleeps) as client, pytest.raises(ApiError) as caught:
        client.call("GetBaseline", {"BaselineId": 42, "ProjectId": 1}, version="2020-05-18")
    err = caught.value
    assert (err.code, err.message, err.status) == (
        "Invalid.Baseline.NotExist",
        "baseline 42 does not exist",
        400,
    )


def test_unknown_action_is_not_retried(server: FakeDataWorks, sleeps: list[float]) -> None:
    with client_for(server, sleeps) as client, pytest.raises(ApiError) as caught:
        client.call("NoSuchThing")
    assert (caught.value.code, caught.value.status) == ("InvalidApi.NotFound", 404)
    assert sleeps == []


def test_timeout_is_reported_not_retried(server: FakeDataWorks, sleeps: list[float]) -> None:
    def slow(_: Seen) -> Reply:
        time.sleep(0.5)
        return ok()

    server.routes["GetTask"] = slow
    with client_for(server, sleeps, timeout=0.1) as client, pytest.raises(DataWorksError) as caught:
        client.call("GetTask", {"Id": 1}, method="GET")
    assert not isinstance(caught.value, ApiError)
    assert "did not answer in time" in str(caught.value)
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (429, "Throttling.User", True),
        (400, "Throttling.Resource", True),
        (500, "InternalError.System", True),
        (503, "HTTP503", True),
        (500, "Forbidden.Not.Server", False),
        (403, "Forbidden.Access", False),
        (400, "InvalidParameter", False),
    ],
)
def test_which_errors_are_retried(status: int, code: str, retryable: bool) -> None:
    assert ApiError(code, "m", "r", status).retryable is retryable


# -- retries ----------------------------------------------------------------------------


def test_throttling_is_retried_honouring_retry_after(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    throttled = error(429, "Throttling.User", "Request was denied due to user flow control.")
    throttled[2]["x-acs-retry-after"] = "3"
    server.routes["ListTasks"] = scripted(throttled, throttled, ok(Success=True))
    with client_for(server, sleeps) as client:
        assert client.call("ListTasks", {"ProjectId": 1})["Success"] is True
    assert sleeps == [3.0, 3.0]
    assert len(server.seen) == 3
    assert len({seen.headers["x-acs-signature-nonce"] for seen in server.seen}) == 3


def test_throttling_without_retry_after_backs_off_exponentially(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    throttled = error(429, "Throttling.Api", "Request was denied due to api flow control.")
    server.routes["ListTasks"] = scripted(throttled, throttled, throttled, ok())
    with client_for(server, sleeps) as client:
        client.call("ListTasks", {"ProjectId": 1})
    assert sleeps == [0.5, 1.0, 2.0]


def test_throttling_gives_up_after_max_attempts_with_capped_sleeps(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    server.routes["ListTasks"] = scripted(error(429, "Throttling.User", "flow control"))
    policy = RetryPolicy(max_attempts=4, base_sleep=0.5, max_sleep=0.75)
    with client_for(server, sleeps, retry=policy) as client, pytest.raises(ApiError) as caught:
        client.call("ListTasks", {"ProjectId": 1})
    assert caught.value.code == "Throttling.User"
    assert len(server.seen) == 4
    assert sleeps == [0.5, 0.75, 0.75]


def test_retry_after_beyond_the_cap_gives_up_at_once(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    throttled = error(429, "Throttling.User", "flow control", {"x-acs-retry-after": "120"})
    server.routes["ListTasks"] = scripted(throttled)
    with client_for(server, sleeps) as client, pytest.raises(ApiError) as caught:
        client.call("ListTasks", {"ProjectId": 1})
    assert caught.value.retry_after == 120.0
    assert len(server.seen) == 1
    assert sleeps == []


def test_server_error_then_success(server: FakeDataWorks, sleeps: list[float]) -> None:
    server.routes["GetTaskInstance"] = scripted(
        error(503, "InternalError.System", "The request processing has failed."),
        ok(TaskInstance={"Id": 9}),
    )
    with client_for(server, sleeps) as client:
        assert client.call("GetTaskInstance", {"Id": 9}, method="GET")["TaskInstance"]["Id"] == 9
    assert sleeps == [0.5]


def test_non_json_gateway_error_is_retried_then_reported(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    server.routes["GetTask"] = scripted((502, b"<html>Bad Gateway</html>", {}))
    policy = RetryPolicy(max_attempts=2, base_sleep=0.5, max_sleep=10.0)
    with client_for(server, sleeps, retry=policy) as client, pytest.raises(ApiError) as caught:
        client.call("GetTask", {"Id": 1}, method="GET")
    assert (caught.value.code, caught.value.status) == ("HTTP502", 502)
    assert "not a JSON object" in caught.value.message
    assert sleeps == [0.5]


# -- paging -----------------------------------------------------------------------------


def test_a_list_longer_than_a_page_is_read_whole(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    instances = [{"Id": n} for n in range(1, 24)]
    server.routes["ListTaskInstances"] = paged(instances, "TaskInstances", "PagingInfo", cap=500)
    with client_for(server, sleeps) as client:
        got = list(
            client.iter_items("ListTaskInstances", "TaskInstances", {"ProjectId": 1}, page_size=10)
        )
    assert got == instances
    assert [seen.form["PageNumber"] for seen in server.seen] == ["1", "2", "3"]
    assert all(seen.form["ProjectId"] == "1" for seen in server.seen)


def test_paging_follows_total_count_when_the_server_caps_the_page(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    tasks = [{"Id": n} for n in range(12)]
    server.routes["ListTasks"] = paged(tasks, "Tasks", "PagingInfo", cap=5)
    with client_for(server, sleeps) as client:
        assert (
            list(client.iter_items("ListTasks", "Tasks", {"ProjectId": 1}, page_size=10)) == tasks
        )
    assert len(server.seen) == 3


def test_paging_without_total_count_stops_at_a_short_page(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    """2020 style: the page sits in ``Data``; here the server omits TotalCount and caps at 4."""
    nodes = [{"NodeId": n} for n in range(10)]
    server.routes["ListNodes"] = paged(nodes, "Nodes", "Data", cap=4, total=False)
    with client_for(server, sleeps) as client:
        got = list(
            client.iter_items(
                "ListNodes", "Nodes", {"ProjectId": 1}, container="Data", version="2020-05-18"
            )
        )
    assert got == nodes
    assert len(server.seen) == 3


def test_paging_parameters_can_travel_in_the_query(
    server: FakeDataWorks, sleeps: list[float]
) -> None:
    rules = [{"Id": n} for n in range(3)]
    server.routes["ListAlertRules"] = paged(rules, "AlertRules", "PagingInfo", cap=100)
    with client_for(server, sleeps) as client:
        got = list(
            client.iter_items(
                "ListAlertRules", "AlertRules", query={"Owner": "1"}, paging_in_query=True
            )
        )
    assert got == rules
    (seen,) = server.seen
    assert seen.query == {"Owner": "1", "PageNumber": "1", "PageSize": "100"}
    assert seen.form == {}


def test_an_empty_list_is_one_request(server: FakeDataWorks, sleeps: list[float]) -> None:
    server.routes["ListTasks"] = lambda seen: ok(PagingInfo={"TotalCount": 0})
    with client_for(server, sleeps) as client:
        assert list(client.iter_items("ListTasks", "Tasks", {"ProjectId": 1})) == []
    assert len(server.seen) == 1


# -- serialization and endpoints -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (True, "true"),
        (False, "false"),
        (7, "7"),
        ("Prod", "Prod"),
        ([1, 2], "[1,2]"),
        ({"Recurrence": "Pause"}, '{"Recurrence":"Pause"}'),
        (None, None),
    ],
)
def test_serialize(value: object, wire: str | None) -> None:
    assert serialize(value) == wire


def test_serialize_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        serialize(object())


def test_region_endpoint() -> None:
    assert region_endpoint("cn-shanghai") == "https://dataworks.cn-shanghai.aliyuncs.com"


# -- credentials ------------------------------------------------------------------------


def write_cli_config(path: Path, current: str = "default") -> Path:
    profiles = [
        {"name": "default", "mode": "AK", "access_key_id": KEY_ID, "access_key_secret": SECRET},
        {
            "name": "sts",
            "mode": "StsToken",
            "access_key_id": "STS.id",
            "access_key_secret": SECRET,
            "sts_token": TOKEN,
            "region_id": "cn-hangzhou",
        },
        {"name": "role", "mode": "RamRoleArn", "access_key_id": "x", "access_key_secret": "y"},
    ]
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


def test_credentials_from_environment() -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": TOKEN,
    }
    assert load_credentials(environ=env, config_path=Path("/nonexistent")) == Credentials(
        KEY_ID, SECRET, TOKEN
    )


def test_half_set_environment_names_the_missing_variable() -> None:
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set"):
        load_credentials(environ={"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID})


def test_credentials_from_cli_profiles(tmp_path: Path) -> None:
    config = write_cli_config(tmp_path / "config.json", current="sts")
    assert load_credentials(environ={}, config_path=config) == Credentials("STS.id", SECRET, TOKEN)
    assert load_credentials("default", environ={}, config_path=config) == Credentials(
        KEY_ID, SECRET
    )


@pytest.mark.parametrize(
    ("profile", "message"),
    [("role", "mode 'RamRoleArn'"), ("nope", "profile 'nope' not found")],
)
def test_unusable_cli_profiles_are_explained(tmp_path: Path, profile: str, message: str) -> None:
    config = write_cli_config(tmp_path / "config.json")
    with pytest.raises(CredentialsError, match=message):
        load_credentials(profile, environ={}, config_path=config)


def test_missing_credentials_name_the_variables_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "config.json"
    with pytest.raises(CredentialsError) as caught:
        load_credentials(environ={}, config_path=missing)
    text = str(caught.value)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", str(missing)):
        assert name in text


def test_repr_of_credentials_hides_secret_and_token() -> None:
    shown = repr(Credentials(KEY_ID, SECRET, TOKEN))
    assert KEY_ID in shown
    assert SECRET not in shown
    assert TOKEN not in shown
