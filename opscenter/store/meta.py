"""Facts the store keeps about itself by key (a bundled workspace's digest, the dependency
rules a workspace's instances were wired by): read one, or set it in a transaction."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from opscenter.store.models import Meta


def read(conn: Connection, key: str) -> str | None:
    return conn.scalar(select(Meta.value).where(Meta.key == key))


def write(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(Meta).where(Meta.key == key))
    conn.execute(insert(Meta).values(key=key, value=value))
