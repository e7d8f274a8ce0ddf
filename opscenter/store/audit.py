"""The audit trail: every action says who did what to which targets, when, and how it ended."""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from opscenter.domain.clock import RealClock
from opscenter.domain.times import to_store
from opscenter.store.models import AuditRow

_wall = RealClock()


def os_user() -> str:
    """The operator's OS login; falls back to the uid where no name is known (containers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def record(
    session: Session | Connection,
    *,
    at: datetime,
    user: str,
    action: str,
    targets: Sequence[str | int],
    outcome: str,
    detail: str = "",
    source: str = "cli",
) -> None:
    """Add an audit row in the caller's transaction: it lands with the action or not at all.

    ``at`` is the world's time (simulated in a demo); the row also keeps the real time.
    Lists order rows by id, the order they were written, never by a time.
    """
    session.execute(
        insert(AuditRow).values(
            at=at,
            user=user,
            action=action,
            targets=list(targets),
            outcome=outcome,
            detail=detail,
            source=source,
            wall_at=to_store(_wall.now()),
        )
    )
