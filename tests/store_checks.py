"""What must hold in a store whatever happened to the processes around it.

Shared by the crash-safety and concurrency tests: they read the store (SQLite or
PostgreSQL) with SQL, as an operator's tools would, after kills, restarts and races.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from opscenter.scheduler import generate
from opscenter.store.db import open_store
from tests.conftest import deploy_folder


def problems(db: Engine) -> list[str]:
    """Every broken invariant, in words; empty when the store is sound."""
    found: list[str] = []
    with db.connect() as conn:
        if db.dialect.name == "sqlite":  # a server database checks its own pages
            integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
            if integrity != "ok":
                found.append(f"integrity_check: {integrity}")
        for row in conn.execute(
            text(
                "SELECT n.name, i.cyctime, i.kind, i.backfill_run_id, COUNT(*) FROM instances i "
                "JOIN nodes n ON n.id = i.node_id "
                "GROUP BY i.node_id, n.name, i.cyctime, i.kind, i.backfill_run_id "
                "HAVING COUNT(*) > 1"
            )
        ):
            found.append(f"instance {tuple(row[:4])} exists {row[4]} times")
        for row in conn.execute(
            text(
                "SELECT instance_id, COUNT(*) FROM attempts WHERE status = 'RUNNING' "
                "GROUP BY instance_id HAVING COUNT(*) > 1"
            )
        ):
            found.append(f"instance #{row[0]} has {row[1]} attempts RUNNING at once")
        for row in conn.execute(
            text(
                "SELECT id, status, running FROM (SELECT i.id, i.status, "
                "(SELECT COUNT(*) FROM attempts a WHERE a.instance_id = i.id "
                " AND a.status = 'RUNNING') AS running FROM instances i) AS counted "
                "WHERE (status = 'RUNNING') != (running = 1) OR running > 1"
            )
        ):
            found.append(f"instance #{row.id} is {row.status} with {row.running} running attempts")
        for row in conn.execute(
            text(
                "SELECT i.id, a.status FROM instances i JOIN attempts a ON a.instance_id = i.id "
                "AND a.number = (SELECT max(number) FROM attempts WHERE instance_id = i.id) "
                "WHERE i.status = 'SUCCESS' AND NOT i.set_success AND a.status != 'SUCCESS'"
            )
        ):
            found.append(f"instance #{row.id} is SUCCESS, its last attempt {row.status}")
        found += _broken_chains(conn)
        for row in conn.execute(
            text(
                "SELECT e.upstream_id, e.downstream_id FROM instance_edges e "
                "LEFT JOIN instances u ON u.id = e.upstream_id "
                "LEFT JOIN instances d ON d.id = e.downstream_id "
                "WHERE u.id IS NULL OR d.id IS NULL"
            )
        ):
            found.append(f"edge {tuple(row)} points at a missing instance")
    return found


def _broken_chains(conn) -> list[str]:  # noqa: ANN001 - a Connection
    """Every status change is a transition from the status before it: a lost update (two
    writers moving the same instance from one status) breaks the chain."""
    found = []
    last: dict[int, str] = {}
    for instance_id, was, to in conn.execute(
        text(
            "SELECT instance_id, from_status, to_status FROM instance_transitions "
            "ORDER BY instance_id, id"
        )
    ):
        before = last.get(instance_id)
        if before is not None and before != was:
            found.append(f"instance #{instance_id} moved {was} -> {to} after reaching {before}")
        last[instance_id] = to
    for instance_id, status in conn.execute(text("SELECT id, status FROM instances")):
        if instance_id in last and last[instance_id] != status:
            found.append(
                f"instance #{instance_id} is {status}, its last transition says {last[instance_id]}"
            )
    return found


def assert_sound(db: Engine, when: str = "") -> None:
    found = problems(db)
    assert not found, f"{when}: " + "\n".join(found[:20])


def audited(db: Engine, source: str | None = None) -> Counter[tuple[str, str, str]]:
    """Operator actions in the audit (of one source: cli, tui): (action, targets as JSON,
    outcome) -> how many."""
    sql = "SELECT action, targets, outcome FROM audit WHERE action != 'deploy'"
    with db.connect() as conn:
        if source is None:
            rows = conn.execute(text(sql)).all()
        else:
            rows = conn.execute(text(sql + " AND source = :source"), {"source": source}).all()
    # a JSON column comes back as text from SQLite, decoded from PostgreSQL
    return Counter(
        (a, json.dumps(json.loads(t) if isinstance(t, str) else t), o) for a, t, o in rows
    )


def audit_key(action: str, targets: list, outcome: str) -> tuple[str, str, str]:
    return (action, json.dumps(targets), outcome)


def _instant(value: datetime | str) -> datetime:
    """A stored instant, whether the driver gave a datetime (PostgreSQL) or text (SQLite)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def periodic_graph(db: Engine) -> tuple[set, set, list[date]]:
    """Periodic instances as (node, cyctime) and their edges as (upstream, downstream) pairs of
    those, for the days generated so far: what the generator made, in names."""
    with db.connect() as conn:
        days = [
            date.fromisoformat(str(d))
            for d in conn.execute(text("SELECT day FROM generations")).scalars()
        ]
        instances = {
            (n, _instant(c))
            for n, c in conn.execute(
                text(
                    "SELECT n.name, i.cyctime FROM instances i JOIN nodes n ON n.id = i.node_id "
                    "WHERE i.kind = 'periodic'"
                )
            )
        }
        edges = {
            ((un, _instant(uc)), (dn, _instant(dc)))
            for un, uc, dn, dc in conn.execute(
                text(
                    "SELECT un.name, u.cyctime, dn.name, d.cyctime FROM instance_edges e "
                    "JOIN instances u ON u.id = e.upstream_id "
                    "JOIN nodes un ON un.id = u.node_id "
                    "JOIN instances d ON d.id = e.downstream_id "
                    "JOIN nodes dn ON dn.id = d.node_id "
                    "WHERE u.kind = 'periodic' AND d.kind = 'periodic'"
                )
            )
        }
    return instances, edges, days


def reference_graph(
    folder: Path, scratch: Path, deployed_at: datetime, days: list[date]
) -> tuple[set, set]:
    """The same days generated once, undisturbed, in a scratch store: what must be there."""
    db = open_store(f"sqlite:///{scratch / 'state.db'}")
    try:
        report = deploy_folder(db, folder, now=deployed_at)
        for n, day in enumerate(sorted(days)):
            generate.generate_day(db, report.workspace_id, day, now=deployed_at, bootstrap=n == 0)
        instances, edges, _ = periodic_graph(db)
    finally:
        db.dispose()
    return instances, edges
