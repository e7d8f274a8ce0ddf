"""Every headless verb over the DataWorks backend: `opscenter VERB --backend dataworks ...`
goes over real HTTP to the emulator on 127.0.0.1, whose local engine is the world we read
back. One world per command: no verb touches (or creates) a local store then, and what
the API cannot do is refused with the backend's reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from opscenter.cli import main
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import KEY_ID, SECRET, serving

BIZDATE = date(2025, 10, 31)  # yesterday on the scene's clock (2025-11-01 02:00 UTC)
V2024, V2020 = "2024-05-18", "2020-05-18"
Capture = pytest.CaptureFixture[str]

WORKSPACE = """
    nodes:
      - {name: ok, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "echo ERROR: disk full; exit 1",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
      - {name: spare, type: virtual, trigger: {cron: "00 00 06 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [blocked]}
    alerts:
      - {name: failed_job, trigger: Error, nodes: [failed], interval: 10m, max: 3}
"""


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 02:00: failed failed on morning's key path (an ERROR event, an alert fired),
    blocked waits on it, later and spare wait for their time."""
    w = world(WORKSPACE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    return w


def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator with the emulator's key and a state folder of their own (the config
    folder is the test's own already): where a wrongly local command would write."""
    state = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    return state


@pytest.fixture
def url(scene: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator's address; the CLI's state folder empty and its own."""
    operator(tmp_path, monkeypatch)
    with serving(scene) as served:
        yield served


class Cli:
    """`opscenter` in this process against the emulated workspace, as a user types it."""

    def __init__(self, scene: World, url: str, version: str, capsys: Capture, state: Path) -> None:
        self.scene, self.capsys, self.state = scene, capsys, state
        self.options = ["--backend", "dataworks", "--endpoint", url]
        self.options += ["--workspace-id", str(scene.workspace_id), "--timezone", "UTC"]
        self.options += ["--api-version", version]

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main([*argv, *self.options], clock=self.scene.clock)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def json(self, *argv: str) -> object:
        code, out, err = self.run(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    def text(self, *argv: str) -> str:
        code, out, err = self.run(*argv)
        assert code == 0, err
        return out

    def local_files(self) -> list[str]:
        """Everything the CLI wrote under $XDG_STATE_HOME: only the DataWorks audit."""
        return sorted(str(p.relative_to(self.state)) for p in self.state.rglob("*") if p.is_file())


@pytest.fixture(params=[V2024, V2020])
def cli(
    request: pytest.FixtureRequest, scene: World, url: str, capsys: Capture, tmp_path: Path
) -> Cli:
    return Cli(scene, url, request.param, capsys, tmp_path / "xdg-state")


def test_every_read_verb_shows_the_dataworks_workspace(cli: Cli, scene: World) -> None:
    local = scene.backend
    failed, blocked = scene.instance("failed"), scene.instance("blocked")

    status = cli.json("status")
    assert (status["workspace"], status["backend"], status["bizdate"]) == (
        "ws",
        "dataworks",
        str(BIZDATE),
    )
    counts = local.status_counts(BIZDATE)
    assert status["counts"] == {s.value: n for s, n in counts.counts.items()} | {
        "TOTAL": counts.total
    }
    assert status["counts"]["FAILURE"] == 1
    assert [b["name"] for b in status["baselines"]] == ["morning"]
    text = cli.text("status")
    assert "ws · dataworks" in text and "Scheduler: DataWorks" in text
    assert "✗ FAILURE" in text and "morning" in text and "committed 06:00" in text

    assert [n["name"] for n in cli.json("nodes")] == [n.name for n in local.list_nodes()]
    node = cli.text("node", "failed")
    assert "downstream: blocked" in node and "ERROR: disk full" in node
    listed = cli.json("instances", "--status", "FAILURE")
    assert [i["id"] for i in listed["items"]] == [failed.id]
    assert listed["total"] == 1
    assert cli.json("instances")["total"] == local.list_instances(InstanceFilter(BIZDATE)).total
    shown = cli.json("show", str(failed.id))
    assert (shown["instance"]["node"], shown["instance"]["status"]) == ("failed", "FAILURE")
    assert len(shown["attempts"]) == len(local.attempts(failed.id))
    assert "ERROR: disk full" in cli.text("logs", str(failed.id))
    why = cli.json("why", str(blocked.id))
    assert f"failed #{failed.id}" in json.dumps(why)

    baselines = cli.json("baselines")
    assert [(b["name"], b["status"]) for b in baselines] == [
        (b.name, b.status) for b in local.list_baselines(BIZDATE)
    ]
    assert cli.json("baseline", "morning")["status"]["name"] == "morning"
    [event] = cli.json("events")
    assert (event["kind"], event["node"]) == ("ERROR", "failed")
    assert [a["rule"] for a in cli.json("alerts")] == ["failed_job"]
    assert cli.json("backfills") == []
    assert cli.json("audit") == []  # reading is not audited
    assert cli.local_files() == []  # and wrote nothing here: no state.db, no audit


def test_every_action_verb_changes_the_dataworks_workspace(cli: Cli, scene: World) -> None:
    local = scene.backend
    failed, blocked, later = (scene.instance(n) for n in ("failed", "blocked", "later"))

    preview = cli.json("rerun", str(failed.id), "--downstream", "--preview")
    assert preview["affected"] == [failed.id, blocked.id]
    assert preview["extra"]["baselines"] is None  # DataWorks has no what-if prediction
    assert local.get_instance(failed.id).status is Status.FAILURE  # a preview does nothing

    assert cli.json("set-success", str(failed.id))["affected"] == [failed.id]
    assert local.get_instance(failed.id).status is Status.SUCCESS
    assert "rerun: 1 instance: rerun done by DataWorks" in cli.text("rerun", str(failed.id))
    assert local.get_instance(failed.id).status is Status.NOT_RUN
    assert local.audit_log(limit=1)[0].source == "emulator"  # it came over the API

    assert later.status is Status.WAIT_TIME
    cli.json("stop", str(later.id))
    assert local.get_instance(later.id).status is Status.FAILURE
    cli.json("freeze", str(blocked.id))
    assert local.get_instance(blocked.id).status is Status.FROZEN
    cli.json("unfreeze", str(blocked.id))
    assert local.get_instance(blocked.id).status is Status.NOT_RUN
    cli.json("freeze", "--node", "spare")
    assert local.get_node("spare").frozen
    cli.json("unfreeze", "--node", "spare")
    assert not local.get_node("spare").frozen

    span = ("--from", "2025-10-20", "--to", "2025-10-21")
    would = cli.json("backfill", "ok", *span, "--preview")
    assert would["extra"]["instances"] == 2 and local.list_backfills() == []
    made = cli.json("backfill", "ok", *span)["extra"]["backfill_id"]
    assert [b.id for b in local.list_backfills()] == [made]
    scene.idle()  # the scheduler runs the backfill's instances
    shown = cli.text("backfills", str(made))
    assert shown.startswith(f"#{made} ") and "2/2 dates done" in shown

    cli.json("undeploy", "spare")
    assert local.get_node("spare").state != "deployed"

    mine = [e["action"] for e in cli.json("audit")]
    assert mine[::-1] == [  # the preview changed nothing, so it is not audited
        "set success",
        "rerun",
        "stop",
        "freeze",
        "unfreeze",
        "freeze node",
        "unfreeze node",
        "backfill",
        "undeploy",
    ]
    workspace = f"opscenter/dataworks-{scene.workspace_id}/audit.jsonl"
    assert cli.local_files() == [workspace]  # the audit, and no local store


def test_what_the_api_cannot_do_is_refused_with_its_reason(cli: Cli, scene: World) -> None:
    event = scene.backend.list_events()[0]
    code, out, err = cli.run("event", str(event.id), "fixing")
    assert code == 3 and out == ""
    assert err.startswith("refused: handling events is not available over the DataWorks")
    assert "event-status API" in err
    assert scene.backend.list_events()[0].status == "NEW"
    code, out, _ = cli.run("event", str(event.id), "ignore", "--json")
    assert code == 3 and "event-status API" in json.loads(out)["refused"]
    assert [e["outcome"] for e in cli.json("audit")] == ["refused", "refused"]


def test_the_backend_options_go_before_the_verb_or_after_it(
    scene: World,
    url: str,
    capsys: Capture,
    tmp_path: Path,
) -> None:
    """`opscenter --backend dataworks ... rerun 2` used to rerun in a local store."""
    failed = scene.instance("failed")
    where = ["--endpoint", url, "--workspace-id", str(scene.workspace_id), "--timezone", "UTC"]
    before = ["--backend", "dataworks", *where, "set-success", str(failed.id)]
    assert main(before, clock=scene.clock) == 0
    assert "set success: 1 instance: set success done by DataWorks" in capsys.readouterr().out
    assert scene.backend.get_instance(failed.id).status is Status.SUCCESS
    split = ["--backend", "dataworks", "rerun", str(failed.id), *where, "--json"]
    assert main(split, clock=scene.clock) == 0
    assert json.loads(capsys.readouterr().out)["affected"] == [failed.id]
    assert scene.backend.get_instance(failed.id).status is Status.NOT_RUN
    state = tmp_path / "xdg-state"
    written = sorted(str(p.relative_to(state)) for p in state.rglob("*") if p.is_file())
    assert written == [f"opscenter/dataworks-{scene.workspace_id}/audit.jsonl"]  # no state.db


def test_the_config_file_backend_sends_every_verb_to_dataworks(
    scene: World,
    url: str,
    capsys: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "opscenter.yaml"
    config.write_text(
        f"backend: dataworks\ndataworks:\n  endpoint: {url}\n"
        f"  workspace_id: {scene.workspace_id}\n  timezone: UTC\n"
        f"  workspaces:\n    {scene.workspace_id}: {{api_version: {V2020}}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OPSCENTER_CONFIG", str(config))
    failed = scene.instance("failed")
    assert main(["rerun", str(failed.id), "--json"], clock=scene.clock) == 0
    assert json.loads(capsys.readouterr().out)["affected"] == [failed.id]
    assert scene.backend.get_instance(failed.id).status is Status.NOT_RUN
    assert main(["status", "--json"], clock=scene.clock) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "dataworks"
    # a local workspace named on the command line is not quietly read instead
    assert main(["status", "--workspace", "shop"], clock=scene.clock) == 2
    assert "--backend local" in capsys.readouterr().err
    assert not (tmp_path / "xdg-state" / "opscenter" / "shop").exists()


def test_readonly_refuses_the_action_and_audits_the_refusal(cli: Cli, scene: World) -> None:
    failed = scene.instance("failed")
    code, _, err = cli.run("rerun", str(failed.id), "--readonly")
    assert err == "refused: rerun is not available: opscenter runs read-only (--readonly)\n"
    assert code == 3
    assert scene.backend.get_instance(failed.id).status is Status.FAILURE
    [entry] = cli.json("audit")
    assert (entry["action"], entry["outcome"]) == ("rerun", "refused")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--endpoint", "http://127.0.0.1:9"], "needs --workspace-id"),
        (["--workspace-id", "7"], "needs --workspace-id and --region (or --endpoint)"),
        (["--workspace-id", "7", "--region", "cn-x", "--db", "sqlite://"], "--db name"),
        (
            ["--workspace-id", "7", "--endpoint", "http://127.0.0.1:9", "--workspace", "shop"],
            "--workspace name",
        ),
        (["--workspace-id", "7", "--region", "cn-x", "--timezone", "Mars/Base"], "not a time zone"),
        (
            ["--workspace-id", "7", "--endpoint", "http://127.0.0.1:9"],
            "cannot open DataWorks workspace 7",
        ),
    ],
    ids=["no-workspace-id", "no-endpoint", "db", "workspace", "timezone", "unreachable"],
)
@pytest.mark.parametrize("verb", [["status"], ["rerun", "2"], ["event", "1", "fixing"]])
def test_a_dataworks_command_missing_what_it_needs_is_a_usage_error(
    verb: list[str],
    argv: list[str],
    says: str,
    capsys: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 2 with the reason, and never a local store or the demo in its place."""
    operator(tmp_path, monkeypatch)
    assert main([*verb, "--backend", "dataworks", *argv]) == 2
    out, err = capsys.readouterr()
    assert says in err and err.startswith("opscenter: ") and out == ""
    assert SECRET not in err and not (tmp_path / "xdg-state").exists()


def test_a_command_that_only_works_locally_refuses_the_dataworks_backend(
    capsys: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # nothing deployed: it cannot serve
    keys = ["--access-key-id", "k", "--access-key-secret", "s", "--port", "0"]
    assert main(["--backend", "dataworks", "emulate", *keys]) == 2
    assert "works on a local workspace" in capsys.readouterr().err


def test_opscenter_piped_over_dataworks_summarises_that_workspace_not_the_demo(
    cli: Cli,
) -> None:
    """Piped, `opscenter --backend dataworks` prints what its console would show first:
    the DataWorks workspace's status, never a local demo deployed instead."""
    code, out, err = cli.run()
    assert code == 0, err
    assert "not a terminal" in err
    assert "ws · dataworks" in out and "Scheduler: DataWorks" in out
    assert "morning" in out and "committed 06:00" in out
    assert "shop" not in out
    assert not [f for f in cli.local_files() if "state.db" in f]
