"""Facts the store keeps about itself by key (a bundled workspace's digest, the dependency
rules a workspace's instances were wired by): read one, or set it in a transaction."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from opscenter.store.models import Meta

BUNDLED = "bundled_digest:"  # + a bundled workspace's name: the digest of its files deployed


def bundled_digest(conn: Connection, name: str) -> str | None:
    """The digest of the bundled workspace's files when it was last deployed (None: never)."""
    return read(conn, BUNDLED + name)


def set_bundled_digest(conn: Connection, name: str, digest: str) -> None:
    """Remember the digest of the bundled workspace's files just deployed."""
    write(conn, BUNDLED + name, digest)


def read(conn: Connection, key: str) -> str | None:
    return conn.scalar(select(Meta.value).where(Meta.key == key))


def write(conn: Connection, key: str, value: str) -> None:
    conn.execute(delete(Meta).where(Meta.key == key))
    conn.execute(insert(Meta).values(key=key, value=value))
