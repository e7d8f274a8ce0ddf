"""Recovery after a crash: the attempts a dead scheduler left RUNNING.

A new scheduler runs this once, before it schedules anything, so that no attempt ever
runs twice at once and none stays RUNNING with nobody waiting on it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine as Database
from sqlalchemy import select, update

from opscenter.domain.model import Status
from opscenter.scheduler import lifecycle, state
from opscenter.scheduler.procs import end_attempts
from opscenter.store.models import AttemptRow, InstanceRow
from opscenter.store.tx import writing


def recover(
    db: Database, workspace_id: int, landing: Path, now: datetime, *, by: str
) -> list[tuple[datetime, int]]:
    """Attempts left RUNNING by a scheduler that died become FAILURE and follow their
    retry policy; a process of theirs that is still alive is ended first. A stop or freeze
    an operator asked for, which the dead scheduler had not carried out yet, is carried
    out instead. Returns the automatic reruns scheduled: (when, instance id)."""
    retries: list[tuple[datetime, int]] = []
    with writing(db) as conn:
        lost = conn.execute(
            select(
                AttemptRow.id,
                AttemptRow.instance_id,
                AttemptRow.number,
                AttemptRow.pid,
                AttemptRow.pid_start,
                AttemptRow.reason,
            )
            .join(InstanceRow, InstanceRow.id == AttemptRow.instance_id)
            .where(
                InstanceRow.workspace_id == workspace_id,
                AttemptRow.status == Status.RUNNING.value,
            )
        ).all()
        end_attempts(lost, landing)
        for attempt in lost:
            asked = state.asked_to_halt(attempt.reason or "")
            reason = attempt.reason if asked else "lost: scheduler restarted"
            conn.execute(
                update(AttemptRow)
                .where(AttemptRow.id == attempt.id)
                .values(status=Status.FAILURE.value, finished_at=now, reason=reason)
            )
            retry_at = lifecycle.end_failed(
                conn, attempt.instance_id, now, reason, halted=asked, by=by
            )
            if retry_at is not None:
                retries.append((retry_at, attempt.instance_id))
    return retries
