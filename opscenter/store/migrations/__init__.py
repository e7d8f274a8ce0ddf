"""The store's schema migrations (Alembic), which ``db.open_store`` runs: a newer opscenter
upgrades an older store in place instead of losing its state.

At every change to the schema (opscenter/store/models.py):

1. first, with the code as it is, keep a store of the schema before the change:
   ``python tests/fixtures/make_store.py tests/fixtures/store-<current head>.db``;
2. change the models and add a migration in ``versions/`` (``NNNN_what.py``, its
   ``down_revision`` the current head) that brings a store of the old schema to the new
   one. SQLite changes a table by rebuilding it: use ``op.batch_alter_table`` (the
   upgrade runs with foreign keys off, so a rebuild deletes nothing by cascade);
3. the first migration after the baseline also sets ``meta``'s ``schema_version`` to 2:
   an opscenter from before migrations then refuses the store instead of misreading it;
4. set ``HEAD`` below to the new revision.

A store at ``HEAD`` is opened with one plain query of ``alembic_version``: Alembic, slow to
import, is loaded only to create, upgrade or refuse a store (and a ``HEAD`` left behind
only sends every store the slow way; tests/test_imports.py checks it is the scripts' head).

tests/test_migrations.py fails until the models and the newest migration agree (its
message shows the operations that are missing), and upgrades every fixture with every row
kept. Configured here, without an alembic.ini.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

FOLDER = Path(__file__).parent
HEAD = "0001"
"""The newest revision, as the scripts in versions/ say (see step 4 above)."""
VERSION_TABLE = "alembic_version"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this opscenter knows."""
    newest = _scripts().get_current_head()
    assert newest is not None
    return newest


def knows(revision: str) -> bool:
    """Whether ``revision`` is one of this opscenter's (not one of a newer opscenter's)."""
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current(connection: Connection) -> str | None:
    """The revision a store is at; None: no revision yet (new, or made before migrations).
    Read as Alembic keeps it, with a plain query: no Alembic to load for it."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))


def upgrade(connection: Connection) -> None:
    """Bring the store to the newest revision, in the transaction ``connection`` is in."""
    from alembic import command

    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
