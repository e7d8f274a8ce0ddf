"""A scheduler that dies hands over: a standby takes the lease, and another process's
verbs reach the one running. (kill -9 at random moments of a busy day, with the store's
invariants checked after each restart, is tests/test_crash_safety.py.)

Real `opscenter scheduler` processes on one store (SQLite, then PostgreSQL), real shell
nodes.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import write_workspace
from tests.processes import kill_group, start_scheduler, verb, wait_for_words

pytestmark = pytest.mark.slow

LAYERS, WIDTH = 4, 6


def busy_workspace(folder: Path) -> Path:
    """Layers of shell nodes that each work for a moment; every node depends on the layer above."""
    lines = [
        "workspace: {name: crash, timezone: UTC}",
        "resource_groups: [{name: work, slots: 4}]",
        "nodes:",
    ]
    for layer in range(LAYERS):
        for n in range(WIDTH):
            ups = [f"n{layer - 1}_{u}" for u in range(WIDTH)] if layer else []
            lines += [
                f"  - name: n{layer}_{n}",
                "    type: shell",
                "    resource_group: work",
                "    rerun_times: 5",
                "    rerun_interval: 0",
                '    trigger: {cron: "00 00 00 * * ?"}',
                f"    depends: [{', '.join(ups)}]",
                "    code: 'sleep 2; echo done'",
            ]
    return write_workspace(folder, "\n".join(lines) + "\n")


def test_a_second_scheduler_waits_as_standby_and_takes_over(tmp_path, store_url):
    folder = busy_workspace(tmp_path / "ws")
    url = store_url
    args = ["--workspace", str(folder), "--db", url]
    first = start_scheduler(args, tmp_path / "first.log")
    wait_for_words(tmp_path / "first.log", "holds the lease", 30, first)  # the second waits
    second = start_scheduler(args, tmp_path / "second.log")
    try:
        wait_for_words(tmp_path / "second.log", "standby", 20, second)
        said = (tmp_path / "second.log").read_text()
        assert "held by" in said and "since" in said
        kill_group(first)  # the holder dies: its heartbeat goes stale
        wait_for_words(tmp_path / "second.log", "holds the lease", 40, second)  # took it over
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)


def test_actions_from_the_cli_reach_a_running_scheduler(tmp_path, store_url):
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: live, timezone: UTC}
        nodes:
          - {name: long, type: shell, trigger: {cron: "00 00 00 * * ?"}, code: "sleep 60"}
          - {name: broken, type: shell, trigger: {cron: "00 00 00 * * ?"}, code: "exit 4"}
          - {name: after, type: virtual, trigger: {cron: "00 00 00 * * ?"}, depends: [broken]}
        """,
    )
    url = store_url
    proc = start_scheduler(["--workspace", str(folder), "--db", url], tmp_path / "sched.log")
    try:
        wait_for_words(tmp_path / "sched.log", "holds the lease", 30, proc)

        def instance(node: str) -> dict:
            out = verb(url, folder, "instances", "--all-dates", "--node", node, "--json")
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)["items"][0]

        deadline = time.monotonic() + 20
        while instance("long")["status"] != "RUNNING" or instance("broken")["status"] != "FAILURE":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        refused = verb(url, folder, "set-success", str(instance("long")["id"]))
        assert refused.returncode == 3
        assert "is RUNNING; only a FAILURE can be set to success" in refused.stderr

        stopped = verb(url, folder, "stop", str(instance("long")["id"]), "--json")
        assert stopped.returncode == 0, stopped.stderr
        fixed = verb(url, folder, "set-success", str(instance("broken")["id"]))
        assert fixed.returncode == 0, fixed.stderr
        deadline = time.monotonic() + 20
        while instance("long")["status"] != "FAILURE" or instance("after")["status"] != "SUCCESS":
            assert time.monotonic() < deadline, "the scheduler did not act on the CLI's actions"
            time.sleep(0.3)
        why = verb(url, folder, "why", str(instance("long")["id"]))
        assert "stopped by" in why.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
