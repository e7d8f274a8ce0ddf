"""The scheduler lease: one dispatcher per database.

The holder renews a heartbeat; another scheduler waits as standby and takes
over when the heartbeat is older than ``STALE_AFTER``, or at once when the holder
was a process on this host that no longer exists. Liveness is a fact of the real
world, so the lease always uses real time, even under a simulated clock, and one
real clock per store: the database server's on PostgreSQL, where schedulers on
several hosts (whose clocks may differ) share a store, and this machine's on
SQLite, whose store is on one machine's disk.

A holder is named ``host:pid:random``. The host is ``OPSCENTER_HOST_NAME`` when
set (two containers or namespaces that share a host name, or a test playing
several hosts), else the machine's host name.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update

from opscenter.domain.clock import RealClock
from opscenter.store.models import LeaseRow
from opscenter.store.tx import writing

LEASE = "scheduler"
HEARTBEAT = timedelta(seconds=2)
STALE_AFTER = timedelta(seconds=15)
_real = RealClock()


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    acquired_at: datetime  # naive UTC
    heartbeat_at: datetime  # naive UTC

    def stale(self, now: datetime) -> bool:
        """No heartbeat for a while, or a holder on this host whose process is gone."""
        return now - self.heartbeat_at > STALE_AFTER or _dead_here(self.holder)


def host_name() -> str:
    """The name this host's schedulers go by in the lease (see the module's docstring)."""
    return os.environ.get("OPSCENTER_HOST_NAME") or socket.gethostname()


def _dead_here(holder: str) -> bool:
    """A holder on this machine whose process no longer exists (e.g. after kill -9)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != host_name() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def new_holder_name() -> str:
    """host:pid:random — unique per scheduler process."""
    return f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _now(conn: Connection) -> datetime:
    """The store's real time, naive UTC (see the module's docstring)."""
    if conn.dialect.name == "postgresql":
        now: datetime = conn.exec_driver_sql(
            "SELECT clock_timestamp() AT TIME ZONE 'UTC'"
        ).scalar_one()
        return now
    return _real.now().replace(tzinfo=None)


def _current(conn: Connection) -> LeaseInfo | None:
    row = conn.execute(select(LeaseRow).where(LeaseRow.name == LEASE)).one_or_none()
    return LeaseInfo(row.holder, row.acquired_at, row.heartbeat_at) if row else None


def live_holder(db: Engine) -> LeaseInfo | None:
    """The lease if a scheduler is alive behind it."""
    with db.connect() as conn:
        lease = _current(conn)
        return lease if lease and not lease.stale(_now(conn)) else None


def try_acquire(db: Engine, holder: str) -> tuple[bool, LeaseInfo]:
    """Take the lease if it is free, stale or already ours; returns (ours?, lease)."""
    with writing(db) as conn:
        now = _now(conn)
        row = conn.execute(select(LeaseRow).where(LeaseRow.name == LEASE)).one_or_none()
        if row is None:
            conn.execute(
                insert(LeaseRow).values(
                    name=LEASE, holder=holder, acquired_at=now, heartbeat_at=now
                )
            )
            return True, LeaseInfo(holder, now, now)
        info = LeaseInfo(row.holder, row.acquired_at, row.heartbeat_at)
        if row.holder != holder and not info.stale(now):
            return False, info
        acquired = row.acquired_at if row.holder == holder else now
        conn.execute(
            update(LeaseRow)
            .where(LeaseRow.name == LEASE)
            .values(holder=holder, acquired_at=acquired, heartbeat_at=now)
        )
        return True, LeaseInfo(holder, acquired, now)


def renew(db: Engine, holder: str) -> bool:
    """Heartbeat; False if another scheduler took the lease meanwhile."""
    with writing(db) as conn:
        result = conn.execute(
            update(LeaseRow)
            .where(LeaseRow.name == LEASE, LeaseRow.holder == holder)
            .values(heartbeat_at=_now(conn))
        )
        return result.rowcount == 1


def release(db: Engine, holder: str) -> None:
    with writing(db) as conn:
        conn.execute(delete(LeaseRow).where(LeaseRow.name == LEASE, LeaseRow.holder == holder))
