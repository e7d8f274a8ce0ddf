"""The words of the command line, as an operator reads them from the real `opscenter`
process (issue 15, "The CLI"): lists are never cut when piped and never cut a name at a
terminal; a missing id is "not found" (exit 4), over the local store and over DataWorks;
a refusal says "refused" once; counts agree with their nouns; a finished event says it is
finished; a run past its automatic attempts says so; a mistyped command names the nearest.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import date
from pathlib import Path

import pytest

from opscenter.domain.model import Status
from tests.harness import MakeWorld, World, at
from tests.processes import run_opscenter
from tests.test_cli_dataworks import scene, url  # noqa: F401 (fixtures)
from tests.test_dataworks_emulator import KEY_ID, SECRET

BIZDATE = date(2025, 10, 31)  # the harness world's first business date

# broken fails its 3 automatic attempts; report waits on it under the morning baseline;
# the solo baseline protects the root alone.
FAILING = """
    nodes:
      - {name: broken, type: shell, owner: finance_team, code: "echo boom; exit 1",
         rerun_times: 2, rerun_interval: 0, trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [broken], trigger: {cron: "00 30 00 * * ?"}}
      - {name: alone, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [report]}
      - {name: solo, committed_time: "07:00", margin: 30, nodes: [ws_root]}
"""


def _env(state: Path, **extra: str) -> dict[str, str]:
    """The operator's environment: their own state folder, and no COLUMNS to fake a width."""
    env = {**os.environ, "XDG_STATE_HOME": str(state), **extra}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo deployed once (`opscenter` piped prints its summary): the environment."""
    env = _env(tmp_path_factory.mktemp("demo-state"))
    done = run_opscenter(env=env)
    assert done.returncode == 0, done.stderr
    return env


def in_a_terminal(args: list[str], env: dict[str, str], columns: int) -> str:
    """What `opscenter ARGS` prints to a terminal ``columns`` wide (a pty), until it ends."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "opscenter", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the process has gone and closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        process.wait(timeout=30)
        os.close(master)
    assert process.returncode == 0, seen
    return seen.decode().replace("\r\n", "\n")


def row(out: str, node: str) -> str:
    """The one line whose NODE column is ``node``, whole."""
    found = [line for line in out.splitlines() if f" {node} " in f" {line} "]
    assert len(found) == 1, f"no line names {node} whole:\n{out}"
    return found[0]


def test_a_piped_list_is_never_cut(demo: dict[str, str]) -> None:
    """`opscenter instances | cat` printed "ods_inventory_snapsho" and "financ"."""
    out = run_opscenter("instances", "--limit", "1000", env=demo).stdout
    assert row(out, "ods_inventory_snapshot").endswith(" supply")
    assert row(out, "dwd_payments").endswith(" finance")
    assert "ods_inventory_snapsho " not in out and "financ\n" not in out


def test_a_narrow_terminal_cuts_other_columns_and_never_a_node_name(demo: dict[str, str]) -> None:
    out = in_a_terminal(["instances", "--limit", "1000"], demo, columns=66)
    lines = out.splitlines()
    assert all(len(line) <= 66 for line in lines), [line for line in lines if len(line) > 66]
    assert " ods_inventory_snapshot " in row(out, "ods_inventory_snapshot")
    assert row(out, "dwd_payments").endswith(" fi…")  # the owner gave way first
    assert lines[0].split()[:4] == ["ID", "STATUS", "NODE", "CYCTIME"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["show", "999999"], "no instance #999999 in workspace shop"),
        (["why", "999999"], "no instance #999999 in workspace shop"),
        (["logs", "999999"], "no instance #999999 in workspace shop"),
        (["rerun", "1", "999999", "999998"], "no instances #999999, #999998 in workspace shop"),
        (["set-success", "999999"], "no instance #999999 in workspace shop"),
        (["freeze", "999999"], "no instance #999999 in workspace shop"),
        (["event", "999999", "fixing"], "no event #999999 in workspace shop"),
        (["backfills", "999999"], "no backfill #999999 in workspace shop"),
        (["node", "nosuch"], "no node 'nosuch' in workspace shop"),
        (["freeze", "--node", "nosuch"], "no node 'nosuch' in workspace shop"),
        (["undeploy", "nosuch"], "no node 'nosuch' in workspace shop"),
        (["baseline", "nosuch"], "no baseline 'nosuch' for business date"),
    ],
)
def test_a_missing_id_or_name_is_not_found_exit_4(
    demo: dict[str, str], argv: list[str], says: str
) -> None:
    done = run_opscenter(*argv, env=demo)
    assert (done.returncode, done.stdout) == (4, ""), done.stderr
    assert done.stderr.startswith(f"opscenter: {says}") and "refused" not in done.stderr
    if argv[0] != "logs":  # the only one of them with no --json
        as_json = run_opscenter(*argv, "--json", env=demo)
        assert as_json.returncode == 4 and json.loads(as_json.stdout)["not_found"].startswith(says)


@pytest.mark.parametrize("version", ["2024-05-18", "2020-05-18"])
def test_over_dataworks_a_missing_id_is_not_found_too(
    scene: World,  # noqa: F811
    url: str,  # noqa: F811
    tmp_path: Path,
    version: str,
) -> None:
    env = _env(
        tmp_path / "state",
        ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
    )
    where = ["--backend", "dataworks", "--endpoint", url, "--api-version", version]
    where += ["--workspace-id", str(scene.workspace_id), "--timezone", "UTC"]
    failed = scene.instance("failed")
    for argv, says in [
        (["show", "999999"], "no instance #999999 in workspace ws"),
        (["logs", "999999"], "no instance #999999 in workspace ws"),
        (["rerun", str(failed.id), "999999"], "no instance #999999 in workspace ws"),
        (["stop", "999999"], "no instance #999999 in workspace ws"),
        (["backfills", "999999"], "no backfill #999999 in workspace ws"),
        (["node", "nosuch"], "no node 'nosuch' in workspace ws"),
    ]:
        done = run_opscenter(*argv, *where, env=env)
        assert (done.returncode, done.stderr) == (4, f"opscenter: {says}\n"), (argv, done)
    assert scene.backend.get_instance(failed.id).status is Status.FAILURE  # nothing was sent


def test_a_read_only_refusal_says_refused_once(demo: dict[str, str]) -> None:
    done = run_opscenter("rerun", "1", "--readonly", env=demo)
    assert done.returncode == 3
    assert done.stderr == "refused: rerun is not available: opscenter runs read-only (--readonly)\n"


def test_a_count_agrees_with_its_noun(
    demo: dict[str, str], world: MakeWorld, tmp_path: Path
) -> None:
    span = ["--from", "2025-01-01", "--to", "2025-01-01", "--preview"]
    preview = run_opscenter("backfill", "sales_daily", *span, env=demo).stdout
    assert preview == "backfill preview: 1 instance of 1 node over 1 business date\n"
    assert run_opscenter("nodes", "--text", "exec_dash", env=demo).stdout.endswith("\n1 node\n")

    w = world(FAILING).start()
    w.go(at(1))
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(w.store.url)]
    env = _env(tmp_path / "state")
    solo = run_opscenter("baseline", "solo", "--bizdate", str(BIZDATE), *where, env=env)
    assert " · protects 1 instance · " in solo.stdout, solo.stderr
    morning = run_opscenter("baseline", "morning", "--bizdate", str(BIZDATE), *where, env=env)
    assert " · protects 3 instances · " in morning.stdout, morning.stderr


def test_a_recovered_event_is_finished_and_says_so(world: MakeWorld, tmp_path: Path) -> None:
    """It said "event #1 is RECOVER; it can go to nothing"."""
    w = world(FAILING).start()
    w.go(at(1))
    [event] = w.backend.list_events()
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(w.store.url)]
    env = _env(tmp_path / "state")
    for step in ("fixing", "recover"):
        assert run_opscenter("event", str(event.id), step, *where, env=env).returncode == 0
    again = run_opscenter("event", str(event.id), "ignore", *where, env=env)
    assert again.returncode == 3
    assert again.stderr == (
        f"refused: event #{event.id} is RECOVER: already recovered, it is finished and "
        "nothing more can be done to it\n"
    )


def test_a_run_past_its_automatic_attempts_says_an_operator_reran_it(
    world: MakeWorld, tmp_path: Path
) -> None:
    """ATT read "4/3"; it reads "6 (3 auto)" (a rerun gives 3 automatic attempts again)
    and a note under the list says what that means."""
    w = world(FAILING).start()
    w.go(at(1))
    broken = w.instance("broken")
    assert (broken.run_number, broken.max_attempts) == (3, 3)
    w.backend.rerun([broken.id])
    w.wait_for(
        lambda: w.instance("broken").run_number == 6 and w.status("broken") is Status.FAILURE
    )
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(w.store.url)]
    env = _env(tmp_path / "state")
    listed = run_opscenter("instances", "--bizdate", str(BIZDATE), *where, env=env).stdout
    assert " 6 (3 auto) " in row(listed, "broken") and "6/3" not in listed
    assert "ATT 'n (m auto)': run n, past the m automatic attempts: an operator reran it" in listed
    assert "(m auto)" not in run_opscenter("instances", "--node", "alone", *where, env=env).stdout
    shown = run_opscenter("show", str(broken.id), *where, env=env).stdout
    assert "· attempt 6 (past the 3 automatic: an operator reran it) ·" in shown


def test_a_mistyped_command_names_the_nearest_one_in_one_line(tmp_path: Path) -> None:
    done = run_opscenter("instnaces", env=_env(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    said = done.stderr.splitlines()
    assert said[0] == "opscenter: unknown command 'instnaces'; did you mean 'instances'?"
    assert said[1:] == [
        "'opscenter --help' lists the commands, 'opscenter COMMAND --help' their options"
    ]
    nothing_near = run_opscenter("--readonly", "xyzzy", env=_env(tmp_path)).stderr
    assert nothing_near.splitlines()[0] == "opscenter: unknown command 'xyzzy'"
