"""A scheduler holds only what its nodes need: DuckDB (some 40 MB of memory) is loaded for
the first SQL attempt or the first run history to keep, never for a workspace of virtual
nodes, so a scheduler of a 10,000-node day of them stays small."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import write_workspace

RUN = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from sqlalchemy import select
from opscenter.domain.clock import ManualClock
from opscenter.project.loader import load_workspace
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from opscenter.store.deploy import deploy
from opscenter.store.models import InstanceRow, NodeRow

folder, state = Path(sys.argv[1]), Path(sys.argv[2])
db = open_store(f"sqlite:///{state / 'state.db'}")
report = deploy(db, load_workspace(folder), folder, data_dir=state, now=datetime(2025, 11, 1),
                user="tester")
engine = Engine(db, report.workspace_id, ManualClock(datetime(2025, 11, 1, 3, tzinfo=UTC)))
engine.start()
engine.run_until_idle()
engine.close()
with db.connect() as conn:
    succeeded = conn.scalars(
        select(NodeRow.name)
        .join(InstanceRow, InstanceRow.node_id == NodeRow.id)
        .where(InstanceRow.status == "SUCCESS")
    )
    ran = ",".join(sorted(succeeded))
print("duckdb" in sys.modules, ran, sorted(p.name for p in state.iterdir()))
"""


def run(tmp_path: Path, nodes: str) -> str:
    folder = write_workspace(
        tmp_path / "ws", "workspace: {name: ws, timezone: UTC}\n" + textwrap.dedent(nodes)
    )
    state = tmp_path / "state"
    state.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(folder), str(state)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_scheduler_of_virtual_nodes_never_loads_duckdb(tmp_path):
    said = run(
        tmp_path,
        """
        nodes:
          - {name: a, type: virtual, trigger: {cron: "00 00 01 * * ?"}}
          - {name: b, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [a]}
        """,
    )
    assert said.startswith("False a,b,"), said  # both ran, and DuckDB stayed out
    assert "history.duckdb" not in said and "warehouse.duckdb" not in said


def test_the_first_sql_attempt_and_success_bring_the_warehouse_and_history(tmp_path):
    said = run(
        tmp_path,
        """
        nodes:
          - {name: q, type: sql, code: "SELECT 1", trigger: {cron: "00 00 01 * * ?"}}
        """,
    )
    assert said.startswith("True q,"), said
    assert "history.duckdb" in said and "warehouse.duckdb" in said
