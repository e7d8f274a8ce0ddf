"""Several hosts on one PostgreSQL store (issue 20): a scheduler and a standby on two
hosts, and CLI verbs on a third, played by real processes with different host names
(``OPSCENTER_HOST_NAME``). A host cannot see another host's processes, so a standby takes
over only when the holder's heartbeat, judged by the database server's clock, is stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opscenter.store.db import open_store
from opscenter.store.lease import STALE_AFTER
from opscenter.store.models import AttemptRow
from tests.conftest import write_workspace
from tests.processes import kill_group, run_opscenter, start_scheduler, wait_for_words

# a shell node every 10 world minutes: at x60, one every 10 real seconds
WORKSPACE = """
workspace: {name: hosts, timezone: UTC}
nodes:
  - {name: tick, type: shell, code: "echo ran", trigger: {cron: "00 */10 * * * ?"}}
"""
START = datetime(2030, 3, 1, 0, 0)


def on_host(host: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / host), "OPSCENTER_HOST_NAME": host}


def status_from(host: str, url: str, tmp_path: Path) -> dict:
    done = run_opscenter("status", "--db", url, "--json", env=on_host(host, tmp_path))
    assert done.returncode == 0, done.stderr
    answer: dict = json.loads(done.stdout)
    return answer


def beta_attempts(db: Engine) -> list[tuple[int, str, str]]:
    """Attempts the scheduler on host beta ran to their end: instance, status, log."""
    with db.connect() as conn:
        rows = conn.execute(
            select(AttemptRow.instance_id, AttemptRow.status, AttemptRow.log_path).where(
                AttemptRow.host == "beta", AttemptRow.finished_at.is_not(None)
            )
        ).all()
    return [(i, s, log) for i, s, log in rows]


def world_now(status: dict) -> datetime:
    return datetime.fromisoformat(status["now"]).replace(tzinfo=None)


@pytest.mark.slow
def test_a_standby_on_another_host_takes_over_when_the_heartbeat_is_stale(
    tmp_path: Path, postgres_url: str
) -> None:
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    env = on_host("alpha", tmp_path)
    deployed = run_opscenter("deploy", str(folder), "--db", postgres_url, env=env)
    assert deployed.returncode == 0, deployed.stderr
    args = ["--db", postgres_url, "--speed", "60", "--start", f"{START:%Y-%m-%d %H:%M}"]
    alpha_log, beta_log = tmp_path / "alpha.log", tmp_path / "beta.log"
    alpha = start_scheduler(args, alpha_log, on_host("alpha", tmp_path))
    beta: subprocess.Popen | None = None
    try:
        wait_for_words(alpha_log, "holds the lease", 60, alpha)
        beta = start_scheduler(["--db", postgres_url], beta_log, on_host("beta", tmp_path))
        wait_for_words(beta_log, "standby: the scheduler lease is held by alpha:", 60, beta)

        # a third host sees alpha's world and alpha's clock, not its own machine's time
        seen = status_from("gamma", postgres_url, tmp_path)
        assert seen["scheduler"].startswith("alpha:"), seen["scheduler"]
        assert seen["speed"] == 60
        assert START <= world_now(seen) < datetime(2030, 3, 1, 2, 0)

        kill_group(alpha)  # the host is gone: beta cannot look for alpha's process
        killed = time.monotonic()
        time.sleep(5)
        assert "holds the lease" not in beta_log.read_text(), "took over a fresh heartbeat"
        wait_for_words(beta_log, "scheduler beta:", 60, beta)
        waited = time.monotonic() - killed
        # the last heartbeat came at most HEARTBEAT (2 s) before the kill
        assert waited >= STALE_AFTER.total_seconds() - 2.5, waited
        assert "holds the lease" in beta_log.read_text()

        before = world_now(seen)
        seen = status_from("gamma", postgres_url, tmp_path)
        assert seen["scheduler"].startswith("beta:"), seen["scheduler"]
        assert seen["speed"] == 60, "the standby runs on the world's clock, not its own"
        assert before < world_now(seen) < datetime(2030, 3, 1, 3, 0)

        # beta dispatches: the next slots run on beta, and each run once
        db = open_store(postgres_url)
        try:
            deadline = time.monotonic() + 60
            while not (ran := beta_attempts(db)):
                assert time.monotonic() < deadline, beta_log.read_text()
                time.sleep(0.5)
            assert all(status == "SUCCESS" for _, status, _ in ran), ran
        finally:
            db.dispose()

        # its log is a file on beta's disk: gamma reads it where the folder is shared, and
        # where it is not (a mount namespace hides it) is told where the log is
        instance, log = str(ran[0][0]), Path(ran[0][2])
        shared = run_opscenter(
            "logs", instance, "--db", postgres_url, env=on_host("gamma", tmp_path)
        )
        assert shared.returncode == 0 and "ran" in shared.stdout, shared.stderr
        hidden = subprocess.run(
            ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs none "$1" && shift && exec "$@"']
            + ["-", str(log.parent), sys.executable, "-m", "opscenter"]
            + ["logs", instance, "--db", postgres_url],
            capture_output=True,
            text=True,
            env=on_host("gamma", tmp_path),
            timeout=120,
        )
        assert hidden.returncode == 3, hidden.stderr
        assert f"is on host beta, at {log}," in hidden.stderr
        assert "which this host (gamma) cannot see" in hidden.stderr
    finally:
        for process in (alpha, beta):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
