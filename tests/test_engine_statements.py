"""The scheduler's hot path sends statements per turn, not per instance: instances that
become ready together start in one transaction with one insert of their attempts."""

from __future__ import annotations

from sqlalchemy import event

from tests.harness import at


def test_instances_ready_together_start_with_one_insert_of_their_attempts(world):
    nodes = "\n".join(
        f'  - {{name: n{i}, type: shell, code: "true", trigger: {{cron: "00 00 02 * * ?"}}}}'
        for i in range(6)
    )
    w = world("resource_groups:\n  - {name: default, slots: 8}\nnodes:\n" + nodes + "\n")
    w.start()  # the root succeeds; the six wait for 02:00
    inserts: list[int] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("INSERT INTO attempts"):
            inserts.append(len(parameters) if executemany else 1)

    event.listen(w.store, "before_cursor_execute", note)
    try:
        w.go(at(2))
    finally:
        event.remove(w.store, "before_cursor_execute", note)
    assert [w.instance(f"n{i}").status.value for i in range(6)] == ["SUCCESS"] * 6
    assert len(inserts) == 1, inserts
