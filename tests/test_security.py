"""Security (issue 7 item 5): read-only enforced in the backend, the emulator's gateway
refusing forged, stale and replayed requests, secrets kept out of everything shown or
stored, and the state folder, store and logs owner-only.

What tests/test_dataworks_emulator.py already covers is not repeated here: a V3 request
with the wrong secret, a forged V2 signature, a V3 nonce used twice, and a V3 date 16
minutes off (14 minutes accepted). Here: the V2 timestamp and nonce, a nonce only being
spent by a request that verified, a captured request replayed at any later time, and
malformed timestamps.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from hashlib import sha1
from hmac import new as hmac_new
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest

from opscenter.backends.dataworks import signer
from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import (
    ApiError,
    Credentials,
    DataWorksClient,
    DataWorksError,
    RetryPolicy,
)
from opscenter.backends.dataworks.emulator import ApiFailure, Emulator, EmulatorServer, Verifier
from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, BackfillRequest, InstanceFilter
from opscenter.scheduler.engine import Engine
from opscenter.sla.alerts import Notifier
from opscenter.store import summary
from opscenter.store.db import default_url, open_store
from opscenter.tui import app as app_module
from opscenter.tui.app import OpsApp
from tests import test_alerts as alerting
from tests import test_dataworks_emulator as emulated
from tests.conftest import write_workspace
from tests.harness import START, MakeWorld, World, at
from tests.test_alerts import closed_port_url, failed_instance, webhook
from tests.test_dataworks_emulator import KEY_ID, send, v3_request
from tests.tui.helpers import press, screen_text, settle

# Recognisable, so that a grep finds them wherever they might have leaked.
scene = emulated.scene  # the emulator tests' world: ok, failed, blocked, later
SECRET = "Sekr1t-K3y-Value-For-Grep"
WRONG = "Wr0ng-Sekr1t-For-Grep"
TOKEN = "STS-T0ken-Value-For-Grep"
HOOK_TOKEN = "D1ngTalk-Access-T0ken-For-Grep"


class Wall:
    """The emulator's clock, moved by the test (to replay a request later)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


@contextmanager
def serve(backend: LocalBackend, wall: Callable[[], datetime]) -> Iterator[EmulatorServer]:
    httpd = EmulatorServer(("127.0.0.1", 0), Emulator(backend, Verifier({KEY_ID: SECRET}, wall)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def gateway(scene: World, wall: Wall) -> Iterator[EmulatorServer]:
    """The emulator over the scene, verifying against SECRET on a clock the test moves."""
    backend = LocalBackend(scene.store, "ws", scene.clock, user="alice", source="emulator")
    with serve(backend, wall) as server:
        yield server


def signed(server: EmulatorServer, action: str = "ListTasks", **options) -> httpx.Request:  # noqa: ANN003
    body = options.pop("body", b"ProjectId=1")
    return v3_request(
        server.url, action, body=body, secret=options.pop("secret", SECRET), **options
    )


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert {"RequestId", "Code", "Message"} <= set(body) and 400 <= response.status_code < 500
    return body["Code"]


# -- --readonly is enforced in the backend ------------------------------------------------


def every_action(backend: LocalBackend, scene: World) -> dict[str, Callable[[], object]]:
    failed, ok = scene.instance("failed"), scene.instance("ok")
    day = failed.bizdate
    return {
        "rerun": lambda: backend.rerun([failed.id]),
        "rerun downstream": lambda: backend.rerun([failed.id], downstream=True),
        "set success": lambda: backend.set_success([failed.id]),
        "stop": lambda: backend.stop([ok.id]),
        "freeze": lambda: backend.freeze([scene.instance("later").id]),
        "unfreeze": lambda: backend.unfreeze([failed.id]),
        "freeze node": lambda: backend.freeze_node("later"),
        "unfreeze node": lambda: backend.unfreeze_node("later"),
        "backfill": lambda: backend.backfill(BackfillRequest("ok", day, day)),
        "handle event": lambda: backend.handle_event(1, "FIXING"),
        "undeploy": lambda: backend.undeploy("later"),
    }


def test_readonly_refuses_every_action_in_the_backend_and_audits_who_and_when(
    scene: World,
) -> None:
    viewer = LocalBackend(scene.store, "ws", scene.clock, user="mallory", readonly=True)
    statuses = {i.id: i.status for i in scene.backend.list_instances(InstanceFilter()).items}
    actions = every_action(viewer, scene)
    for name, call in actions.items():
        with pytest.raises(ActionRefused, match=r"read-only \(--readonly\)$") as refused:
            call()
        assert refused.value.reason.startswith(f"{name} is not available")
    # checked before anything else: even an action on nothing that exists says read-only
    with pytest.raises(ActionRefused, match="read-only"):
        viewer.rerun([987654321])
    after = {i.id: i.status for i in scene.backend.list_instances(InstanceFilter()).items}
    assert after == statuses and not scene.backend.get_node("later").frozen
    trail = [e for e in scene.backend.audit_log(limit=100) if e.user == "mallory"]
    assert [e.action for e in reversed(trail)] == [*actions, "rerun"]
    assert {(e.outcome, e.source, e.at) for e in trail} == {
        ("refused", "cli", at(2).replace(tzinfo=None))
    }
    # reading and previewing are not actions
    assert viewer.preview_rerun([scene.instance("failed").id]).affected


def test_readonly_holds_behind_the_emulator_too(scene: World, wall: Wall) -> None:
    """A read-only store served over the API: the refusal comes from the backend, whoever
    asks, and is audited with the emulator as its source."""
    viewer = LocalBackend(
        scene.store, "ws", scene.clock, user="eve", readonly=True, source="emulator"
    )
    failed = scene.instance("failed")
    with serve(viewer, wall) as server:
        body = urlencode({"Ids": json.dumps([failed.id])}).encode()
        answer = send(signed(server, "RerunTaskInstances", body=body)).json()
        info = answer["SuccessInfo"][str(failed.id)]
        assert info["Success"] is False and "read-only" in info["Message"]
    assert scene.status("failed") is Status.FAILURE
    [entry] = [e for e in scene.backend.audit_log() if e.user == "eve"]
    assert (entry.action, entry.outcome, entry.source) == ("rerun", "refused", "emulator")


# -- the emulator's gateway ----------------------------------------------------------------


def enc(text: str) -> str:
    return quote(text, safe="-_.~")


def v2_request(
    server: EmulatorServer, *, when: datetime | str, nonce: str, form: dict[str, str]
) -> httpx.Request:
    """Spec 2.5: common parameters in the query, business ones in the body, HMAC-SHA1."""
    query = {
        "Action": "ListTasks",
        "Version": "2024-05-18",
        "Format": "json",
        "Timestamp": when if isinstance(when, str) else when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SignatureNonce": nonce,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": KEY_ID,
    }
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted({**query, **form}.items()))
    digest = hmac_new(f"{SECRET}&".encode(), f"POST&{enc('/')}&{enc(canonical)}".encode(), sha1)
    query["Signature"] = b64encode(digest.digest()).decode()
    return httpx.Request(
        "POST",
        f"{server.url}/?{urlencode(query)}",
        content=urlencode(form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_v2_timestamps_sixteen_minutes_off_are_expired(gateway: EmulatorServer, wall: Wall) -> None:
    form = {"ProjectId": "1"}
    for skew in (timedelta(minutes=-16), timedelta(minutes=16)):
        late = v2_request(gateway, when=wall.now + skew, nonce=uuid.uuid4().hex, form=form)
        assert error_code(send(late)) == "InvalidTimeStamp.Expired"
    near = v2_request(gateway, when=wall.now - timedelta(minutes=14), nonce="n1", form=form)
    assert send(near).status_code == 200


def test_v2_nonce_used_twice_is_refused(gateway: EmulatorServer, wall: Wall) -> None:
    first = v2_request(gateway, when=wall.now, nonce="same", form={"ProjectId": "1"})
    assert send(first).status_code == 200
    again = v2_request(gateway, when=wall.now, nonce="same", form={"ProjectId": "2"})
    assert error_code(send(again)) == "SignatureNonceUsed"


def test_a_nonce_is_spent_only_by_a_request_that_verified(gateway: EmulatorServer) -> None:
    """A forger cannot burn a client's nonces; and a nonce is not per request: a different
    action with a used nonce is refused too."""
    nonce = uuid.uuid4().hex
    forged = signed(gateway, nonce=nonce, secret="not-the-secret")
    assert error_code(send(forged)) == "SignatureDoesNotMatch"
    assert send(signed(gateway, nonce=nonce)).status_code == 200
    other = signed(gateway, "GetTaskInstance", nonce=nonce, body=b"Id=1")
    assert error_code(send(other)) == "SignatureNonceUsed"


def test_a_captured_request_replayed_later_is_refused_at_any_time(
    gateway: EmulatorServer, wall: Wall
) -> None:
    """The very bytes a client sent, sent again: within the window the nonce is known,
    after it (nonces are forgotten after 30 minutes) the timestamp is stale."""
    sent = wall.now
    captured = signed(gateway, when=sent)
    assert send(captured).status_code == 200
    # at 61 minutes the nonce is forgotten (kept 30), and the date still refuses it
    for later in (1, 60, 14 * 60, 16 * 60, 61 * 60):
        wall.now = sent + timedelta(seconds=later)
        replay = httpx.Request(
            "POST", captured.url, headers=captured.headers, content=b"ProjectId=1"
        )
        expected = "SignatureNonceUsed" if later < 15 * 60 else "InvalidTimeStamp.Expired"
        assert error_code(send(replay)) == expected, later


def test_malformed_timestamps_are_refused_even_when_signed(gateway: EmulatorServer) -> None:
    body = b"ProjectId=1"
    for stamp in ("yesterday", "2025-11-01 02:00:00", "2025-11-01T02:00:00+08:00", ""):
        headers = {
            "host": httpx.URL(gateway.url).netloc.decode(),
            "x-acs-action": "ListTasks",
            "x-acs-version": "2024-05-18",
            "x-acs-date": stamp,
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": signer.hashed_payload(body),
            "content-type": "application/x-www-form-urlencoded",
        }
        headers["authorization"] = signer.authorization("POST", {}, headers, body, KEY_ID, SECRET)
        v3 = httpx.Request("POST", f"{gateway.url}/", headers=headers, content=body)
        assert error_code(send(v3)) in ("InvalidTimeStamp.Format", "MissingParameter"), stamp
        if stamp:
            v2 = v2_request(gateway, when=stamp, nonce=uuid.uuid4().hex, form={})
            assert error_code(send(v2)) == "InvalidTimeStamp.Format", stamp


# -- secrets ----------------------------------------------------------------------------------


def leaks(texts: list[str], *secrets: str) -> list[str]:
    return [f"{s!r} in {t[:200]!r}" for t in texts for s in secrets if s in t]


def files_under(*folders: Path) -> list[str]:
    return [
        p.read_text(encoding="utf-8", errors="replace")
        for folder in folders
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".log", ".jsonl", ".sh", ".py", ".json", ".txt")
    ]


def quick(credentials: Credentials, server: EmulatorServer) -> DataWorksClient:
    return DataWorksClient(
        credentials, server.url, retry=RetryPolicy(2, 0.0, 0.0), sleep=lambda _s: None
    )


def remote_over(client: DataWorksClient, scene: World, audit: Path) -> DataWorksBackend:
    return DataWorksBackend(
        client, scene.workspace_id, clock=scene.clock, user="bob", audit_path=audit, timezone="UTC"
    )


def failure_of(call: Callable[[], object]) -> list[str]:
    try:
        call()
    except (DataWorksError, ActionRefused) as error:
        return [str(error), repr(error), str(error.__cause__ or ""), str(error.__context__ or "")]
    raise AssertionError("expected a failure")


class TellingApp(OpsApp):
    """The console, keeping every notification it showed."""

    CSS_PATH = Path(app_module.__file__).parent / OpsApp.CSS_PATH  # relative to its module
    told: list[str]

    def notify(self, message, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        self.told = [*getattr(self, "told", []), str(message), str(kwargs.get("title", ""))]
        super().notify(message, *args, **kwargs)


async def console_shows(backend: DataWorksBackend, *keys: str) -> list[str]:
    """What the console shows (screen, notifications, an SVG snapshot) after ``keys``."""
    app = TellingApp(backend, start="instances")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        if keys:
            await press(pilot, *keys)
        return [screen_text(pilot), app.export_screenshot(), *getattr(app, "told", [])]


async def test_secrets_never_reach_logs_errors_audit_or_the_console(
    scene: World,
    gateway: EmulatorServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The DataWorks client and backend against the emulator with a recognisable secret and
    STS token, through success, a refused action, a wrong secret, a 5xx echoing them back
    and a crash; then every log file, the audit file, the store's audit, every error,
    everything logged and the console are searched for them."""
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    audit = tmp_path / "audit" / "audit.jsonl"
    good = quick(Credentials(KEY_ID, SECRET, TOKEN), gateway)
    remote = remote_over(good, scene, audit)
    failed, ok, later = (scene.instance(n) for n in ("failed", "ok", "later"))
    assert remote.freeze([later.id]).affected == [later.id]
    shown += failure_of(lambda: remote.stop([ok.id]))  # refused: it is not running

    wrong = remote_over(quick(Credentials(KEY_ID, WRONG, TOKEN), gateway), scene, audit)
    shown += failure_of(lambda: wrong.get_instance(ok.id))
    shown += failure_of(lambda: wrong.rerun([ok.id]))
    assert "SignatureDoesNotMatch" in " ".join(shown)

    table = gateway.emulator.operations.table

    def echo(_params: object) -> dict:  # a gateway that echoes credentials back, then fails
        raise ApiFailure(503, "ServiceUnavailable", f"busy; you sent {SECRET} and {TOKEN}")

    def crash(_params: object) -> dict:
        raise RuntimeError("the operation broke")

    monkeypatch.setitem(table, ("2024-05-18", "GetTaskInstance"), echo)
    echoed = failure_of(lambda: remote.get_instance(ok.id))
    assert "***" in echoed[0]  # it was echoed, and scrubbed
    shown += echoed
    with pytest.raises(ApiError) as raised:
        good.call("GetTaskInstance", {"Id": ok.id}, method="GET")
    shown += [str(raised.value), repr(raised.value), raised.value.message]
    monkeypatch.setitem(table, ("2024-05-18", "ListTaskInstances"), crash)
    shown += failure_of(lambda: remote.list_instances(InstanceFilter(bizdate=failed.bizdate)))
    monkeypatch.undo()

    failing = await console_shows(wrong)  # every read fails: what does it say?
    assert "SignatureDoesNotMatch" in " ".join(failing[2:])  # told, not just a blank screen
    refused = await console_shows(remote, "t", "x", "y")  # FAILURE filter, stop: refused
    assert "failed" in refused[0] and "refused" in " ".join(refused[2:]).lower()
    shown += failing + refused
    shown += [repr(good), repr(remote), repr(good._credentials), caplog.text]
    shown += [audit.read_text(encoding="utf-8")]
    shown += [json.dumps([e.__dict__ for e in remote.audit_log()], default=str)]
    shown += [e.detail for e in scene.backend.audit_log(limit=1000)]
    shown += files_under(tmp_path)  # run logs, scripts, the audit file
    assert len([e for e in remote.audit_log() if e.outcome == "refused"]) >= 2
    assert not leaks(shown, SECRET, WRONG, TOKEN)


def test_operator_credentials_in_the_environment_do_not_reach_node_processes(
    world: MakeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An operator with their access key exported (as the SDKs and this console read it)
    runs the scheduler: a node's code is the workspace author's and must not see it; a
    script printing its environment would otherwise write it into the run log."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    monkeypatch.setenv("OPSCENTER_EMULATOR_ACCESS_KEY_SECRET", WRONG)
    monkeypatch.setenv("OPSCENTER_HARMLESS_MARKER", "visible-marker")
    w = world(
        """
        nodes:
          - {name: sh, type: shell, code: "env", trigger: {cron: "00 30 00 * * ?"}}
          - name: py
            type: python
            code: "import os; print(sorted(os.environ.items()))"
            trigger: {cron: "00 30 00 * * ?"}
        """
    ).start()
    w.go(at(1))
    logs = [w.log("sh"), w.log("py")]
    assert all("visible-marker" in log for log in logs)  # the environment was printed
    assert not leaks(logs + files_under(tmp_path), SECRET, WRONG, TOKEN)


def test_a_webhook_token_in_a_workspace_never_reaches_errors_logs_or_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Workspace YAML has no secret parameters (parameters are shown, as in DataWorks, in
    `opscenter node` and every log header); the one credential it can hold is an alert
    webhook URL with a token in it (DingTalk's access_token). It is posted to, and never
    shown: not in the alert's error, `opscenter alerts`, or the run logs."""
    for case, answers in (("answers_500", (500,)), ("closed_port", None)):
        store = open_store(f"sqlite:///{tmp_path / case / 'state.db'}")
        folder = tmp_path / case / "ws"
        with webhook(answers or (200,)) as hook:
            url = (hook.url if answers else closed_port_url()) + f"?access_token={HOOK_TOKEN}"
            failed = failed_instance(store, folder, url)
            notifier = Notifier(store, retries=2, backoff=0.0)
            failed.monitor(notifier).check(alerting.utc(1, 0))
            notifier.close()
            if answers:
                assert hook.requests and HOOK_TOKEN in hook.requests[0].path  # it was used
        [alert] = failed.backend.list_alerts()
        assert alert.last_error  # the failure is recorded, without the token
        where = ["--workspace", str(folder), "--db", str(store.url)]
        for argv in (["alerts", *where], ["alerts", *where, "--json"], ["node", "job", *where]):
            assert main(argv, clock=ManualClock(alerting.at(1, 5))) == 0
        out, err = capsys.readouterr()
        assert "job_failed" in out
        assert not leaks([alert.last_error, out, err, *files_under(tmp_path)], HOOK_TOKEN)
        store.dispose()


def test_a_webhook_token_never_reaches_captured_logging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with webhook((500,)) as hook:
        failed = failed_instance(store, tmp_path / "ws", f"{hook.url}?access_token={HOOK_TOKEN}")
        notifier = Notifier(store, retries=1, backoff=0.0)
        failed.monitor(notifier).check(alerting.utc(1, 0))
        notifier.close()
    store.dispose()
    assert hook.requests and not leaks([caplog.text], HOOK_TOKEN)
    assert "HTTP Request: POST http://127.0.0.1:" in caplog.text  # logged, host kept


# -- owner-only state -------------------------------------------------------------------------

OWNED_WORKSPACE = """\
workspace: {name: owned, timezone: UTC}
nodes:
  - {name: sh, type: shell, code: "echo hi > out.txt", trigger: {cron: "00 30 00 * * ?"}}
  - {name: py, type: python, code: "print('hi')", trigger: {cron: "00 30 00 * * ?"}}
  - name: q
    type: sql
    code: "CREATE OR REPLACE TABLE t AS SELECT 1 AS x"
    trigger: {cron: "00 30 00 * * ?"}
"""


@pytest.fixture
def owned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`opscenter deploy` into a state home that does not exist yet, then a run of a shell,
    a Python and a SQL node, under the common umask 022; yields the state home."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    previous = os.umask(0o022)
    try:
        folder = write_workspace(tmp_path / "src", OWNED_WORKSPACE)
        clock = ManualClock(START)
        assert main(["deploy", str(folder)], clock=clock) == 0
        db = open_store(default_url("owned"))
        engine = Engine(db, summary.workspace_id(db, "owned"), clock)
        try:
            engine.start()
            engine.run_until_idle()
            clock.set(at(1))
            engine.run_until_idle(limit=10)
        finally:
            engine.close()
            db.dispose()
        yield home
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_folder_store_and_logs_are_owner_only(owned: Path) -> None:
    state = owned / "opscenter" / "owned"
    assert (state / "state.db").is_file() and (state / "warehouse.duckdb").is_file()
    logs = sorted((state / "logs").rglob("*.log"))
    assert len(logs) == 3
    landing = state / "landing"
    wrong = []
    for path in [owned, *owned.rglob("*")]:
        if landing in path.parents or path.name == "history.duckdb":
            continue  # what node code writes is its own; history: see the next test
        expected = 0o700 if path.is_dir() else 0o600
        if mode(path) != expected:
            wrong.append(f"{oct(mode(path))} {path.relative_to(owned)}")
    assert not wrong, wrong
    assert mode(landing) == 0o700


def test_the_duration_history_is_owner_only(owned: Path) -> None:
    assert mode(owned / "opscenter" / "owned" / "history.duckdb") == 0o600


def test_the_dataworks_audit_file_is_owner_only(
    scene: World, gateway: EmulatorServer, tmp_path: Path
) -> None:
    previous = os.umask(0o022)
    try:
        audit = tmp_path / "dataworks-1" / "audit.jsonl"
        remote = remote_over(quick(Credentials(KEY_ID, SECRET), gateway), scene, audit)
        remote.rerun([scene.instance("failed").id])
    finally:
        os.umask(previous)
    assert (mode(audit.parent), mode(audit)) == (0o700, 0o600)
