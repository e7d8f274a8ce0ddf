"""Facts of a deployed workspace that every layer asks for by id.

The workspace's zone decides how cyctimes, business dates and slots are read; it is
looked up here once rather than by a query written in each module that needs it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from opscenter.store.models import WorkspaceRow


def zone_of(conn: Connection, workspace_id: int) -> ZoneInfo:
    """The workspace's time zone; a workspace id that is not in the store is a bug."""
    name = conn.scalar(select(WorkspaceRow.timezone).where(WorkspaceRow.id == workspace_id))
    if name is None:
        raise LookupError(f"no workspace #{workspace_id} in this store")
    return ZoneInfo(name)
