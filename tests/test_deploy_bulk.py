"""A deploy writes only what changed, in bulk: its statements do not grow with the nodes.

A 10,000-node workspace redeployed for one changed node must not rewrite (or read one by
one) the other 9,999: the store keeps their rows untouched and the deploy's statements are
as many for ten nodes as for two hundred.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from opscenter.domain.model import TriggerType
from opscenter.project.loader import load_workspace
from opscenter.store.db import open_store
from opscenter.store.deploy import node_digest
from opscenter.store.models import NodeRow, NodeVersionRow
from tests.conftest import deploy_folder, write_workspace


def workspace(nodes: int, changed: str = "") -> str:
    """``nodes`` virtual nodes in a chain; the one named ``changed`` runs at 02:30."""
    lines = ["workspace: {name: ws}", "nodes:"]
    for i in range(nodes):
        cron = "00 30 02 * * ?" if f"n{i}" == changed else "00 00 01 * * ?"
        depends = f", depends: [n{i - 1}]" if i else ""
        lines.append(f'  - {{name: n{i}, type: virtual, trigger: {{cron: "{cron}"}}{depends}}}')
    return "\n".join(lines) + "\n"


@contextmanager
def statements(store: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent to the database meanwhile (an executemany counts once)."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(store, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store, "before_cursor_execute", note)


def rows(store: Engine) -> tuple[list, list]:
    with Session(store) as session:
        nodes = session.execute(select(NodeRow.__table__).order_by(NodeRow.id)).mappings()
        versions = session.execute(
            select(NodeVersionRow.__table__).order_by(NodeVersionRow.id)
        ).mappings()
        return [dict(n) for n in nodes], [dict(v) for v in versions]


def writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_redeploy_with_one_node_changed_writes_only_that_nodes_version(tmp_path, store):
    folder = write_workspace(tmp_path / "ws", workspace(20))
    deploy_folder(store, folder)
    nodes_before, versions_before = rows(store)
    write_workspace(folder, workspace(20, changed="n7"))
    report = deploy_folder(store, folder, now=datetime(2025, 11, 2))
    assert report.changed == ["n7"]
    assert report.added == report.removed == []
    assert len(report.unchanged) == 20  # the other 19 and the workspace root
    nodes_after, versions_after = rows(store)
    assert versions_after[: len(versions_before)] == versions_before  # none rewritten
    [new] = versions_after[len(versions_before) :]
    n7 = next(n for n in nodes_before if n["name"] == "n7")
    assert (new["node_id"], new["version"], new["cron"]) == (n7["id"], 2, "00 30 02 * * ?")
    assert new["deployed_at"] == datetime(2025, 11, 2)
    others = [n for n in nodes_before if n["name"] != "n7"]
    assert [n for n in nodes_after if n["name"] != "n7"] == others
    [after] = [n for n in nodes_after if n["name"] == "n7"]
    assert after == n7 | {"current_version_id": new["id"]}


def test_a_redeploy_with_nothing_changed_writes_no_node_and_says_so(tmp_path, store):
    folder = write_workspace(tmp_path / "ws", workspace(20))
    deploy_folder(store, folder)
    before = rows(store)
    with statements(store) as seen:
        report = deploy_folder(store, folder, now=datetime(2025, 11, 2))
    assert report.added == report.changed == report.removed == []
    assert sorted(report.unchanged) == sorted([f"n{i}" for i in range(20)] + ["ws_root"])
    assert report.summary == "workspace ws: 0 added, 0 changed, 0 removed, 21 unchanged"
    assert rows(store) == before
    touching_nodes = [s for s in writes(seen) if " nodes" in s or "node_versions" in s]
    assert touching_nodes == []


def deploy_statements(tmp_path: Path, nodes: int) -> tuple[int, int, int]:
    """Statements of a first deploy, of a redeploy with one node changed, and of one with a
    node removed, for a workspace of ``nodes`` nodes in a fresh store."""
    store = open_store(f"sqlite:///{tmp_path / str(nodes) / 'state.db'}")
    try:
        folder = write_workspace(tmp_path / f"ws{nodes}", workspace(nodes))
        with statements(store) as first:
            deploy_folder(store, folder)
        write_workspace(folder, workspace(nodes, changed="n3"))
        with statements(store) as changed:
            deploy_folder(store, folder, now=datetime(2025, 11, 2))
        write_workspace(folder, workspace(nodes - 1, changed="n3"))
        with statements(store) as removed:
            report = deploy_folder(store, folder, now=datetime(2025, 11, 3))
        assert report.removed == [f"n{nodes - 1}"]
        return len(first), len(changed), len(removed)
    finally:
        store.dispose()


def test_deploy_sends_as_many_statements_for_ten_nodes_as_for_two_hundred(tmp_path):
    assert deploy_statements(tmp_path, 10) == deploy_statements(tmp_path, 200)


def test_a_nodes_digest_is_the_one_stores_were_first_deployed_with(tmp_path):
    """An upgrade must not call every node of a deployed store changed: the digest is still
    sha256 of ``json.dumps(asdict(node))`` (trigger fields only for a manual node)."""
    demo = load_workspace(Path(__file__).parents[1] / "fixtures" / "demo")
    assert any(node.trigger is TriggerType.MANUAL for node in demo.nodes)
    assert any(node.depends and node.parameters for node in demo.nodes)
    for node in demo.nodes:
        fields = asdict(node)
        if node.trigger is TriggerType.SCHEDULER:
            del fields["trigger"], fields["workflow"]
        payload = json.dumps(fields, sort_keys=True, default=str)
        assert node_digest(node) == hashlib.sha256(payload.encode()).hexdigest(), node.name
