"""Upgrades keep the state: a newer opscenter upgrades an older store in place, after a copy
beside it and with a message, and refuses a store newer than itself. Every schema an
opscenter has written is kept as a fixture (tests/fixtures/store-<revision>.db, made by
tests/fixtures/make_store.py); each is upgraded here with every row kept. The models must
match the newest migration, so a schema change without a migration fails here."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData

from opscenter.cli import main
from opscenter.store import migrations
from opscenter.store.db import StoreError, open_store
from opscenter.store.models import Base

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("store-*.db"))
HEAD = migrations.head()

Rows = dict[str, tuple[list[str], list[tuple]]]


def rows(path: Path) -> Rows:
    """Every table's columns and rows, in rowid order, read with plain sqlite3."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as raw:
        tables = [
            name
            for (name,) in raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        found: Rows = {}
        for table in tables:
            names = [row[1] for row in raw.execute(f'PRAGMA table_info("{table}")')]
            found[table] = (
                names,
                raw.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall(),
            )
        return found


def kept(before: Rows, after: Path) -> None:
    """Every table and row of ``before`` is in the store at ``after``, column by column."""
    now = rows(after)
    for table, (names, old) in before.items():
        assert table in now, f"table {table} is gone"
        new_names, new = now[table]
        picked = [new_names.index(name) for name in names]
        assert [tuple(row[i] for i in picked) for row in new] == old, f"rows of {table} changed"


def revision(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as raw, raw:
        return raw.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def store_from(fixture: Path, folder: Path) -> Path:
    folder.mkdir()
    path = folder / "state.db"
    shutil.copyfile(fixture, path)
    return path


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A store made by opscenter before migrations (the fixture of revision 0001's schema)."""
    return store_from(Path(__file__).parent / "fixtures" / "store-0001.db", tmp_path / "state")


def test_every_fixture_holds_rows_in_every_table_it_means_to_keep(tmp_path: Path) -> None:
    assert FIXTURES, "no store fixture"
    for fixture in FIXTURES:
        copy = store_from(fixture, tmp_path / fixture.stem)  # a reader leaves a -shm behind
        empty = {table for table, (_, found) in rows(copy).items() if not found}
        assert empty <= {"scheduler_lease", "world_clock"}, f"{fixture.name}: {empty}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_a_store_of_every_earlier_schema_is_upgraded_with_every_row_kept(
    fixture: Path, tmp_path: Path
) -> None:
    path = store_from(fixture, tmp_path / "state")
    before = rows(path)
    said: list[str] = []
    open_store(f"sqlite:///{path}", say=said.append).dispose()
    assert revision(path) == HEAD
    kept(before, path)
    assert len(said) == 1


def test_the_copy_beside_it_is_the_store_as_it_was(old_store: Path) -> None:
    before = rows(old_store)
    open_store(f"sqlite:///{old_store}", say=lambda _: None).dispose()
    copy = old_store.with_name("state.db.bak-v1")
    assert rows(copy) == before  # no alembic_version either: as it was
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with closing(sqlite3.connect(copy)) as raw, raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_an_earlier_copy_is_never_overwritten(old_store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{old_store}"
    shutil.copyfile(old_store, tmp_path / "original.db")
    open_store(url, say=lambda _: None).dispose()
    first = old_store.with_name("state.db.bak-v1").read_bytes()
    shutil.copyfile(tmp_path / "original.db", old_store)  # restored, and upgraded again
    said: list[str] = []
    open_store(url, say=said.append).dispose()
    assert old_store.with_name("state.db.bak-v1").read_bytes() == first
    assert old_store.with_name("state.db.bak-v1.2").exists()
    assert said[0].endswith("state.db.bak-v1.2")


def test_the_cli_says_in_one_line_what_the_upgrade_did(
    old_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--db", f"sqlite:///{old_store}"]) == 0
    err = capsys.readouterr().err
    assert err == (
        f"opscenter: upgraded sqlite:///{old_store} from schema version 1 (made before "
        f"migrations) to revision {HEAD}; its copy from before the upgrade: "
        f"{old_store}.bak-v1\n"
    )
    assert main(["status", "--db", f"sqlite:///{old_store}"]) == 0
    assert capsys.readouterr().err == ""  # upgraded once


def test_a_store_newer_than_this_opscenter_is_refused_naming_both_revisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.db"
    open_store(f"sqlite:///{path}").dispose()
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    content = path.read_bytes()
    with pytest.raises(StoreError, match=f"9999_from_the_future.*its newest is {HEAD}"):
        open_store(f"sqlite:///{path}")
    assert main(["status", "--db", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "9999_from_the_future" in err and "Traceback" not in err
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["state.db"]  # no copy: nothing was done


def test_a_new_store_is_created_at_the_newest_revision(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    said: list[str] = []
    open_store(f"sqlite:///{path}", say=said.append).dispose()
    assert revision(path) == HEAD
    with closing(sqlite3.connect(path)) as raw, raw:
        # an opscenter from before migrations reads a store of the baseline as its own
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            ("1",)
        ]
    assert said == []
    assert [p.name for p in tmp_path.iterdir()] == ["state.db"]


def test_a_store_of_an_earlier_commit_of_version_1_gains_what_it_lacked(old_store: Path) -> None:
    """Commits of schema version 1 added a table, nullable columns and indexes in place; a
    store made before them (61636b4's, say) opens with its rows and gains them."""
    with closing(sqlite3.connect(old_store)) as raw, raw:
        raw.execute("DROP TABLE removed_dependencies")
        raw.execute("ALTER TABLE node_versions DROP COLUMN workflow")
        raw.execute("ALTER TABLE audit DROP COLUMN wall_at")
        raw.execute("DROP INDEX ix_instances_status_due")
    before = rows(old_store)
    open_store(f"sqlite:///{old_store}", say=lambda _: None).dispose()
    kept(before, old_store)
    after = rows(old_store)
    assert "workflow" in after["node_versions"][0] and "wall_at" in after["audit"][0]
    assert "removed_dependencies" in after
    with closing(sqlite3.connect(old_store)) as raw, raw:
        indexes = {row[1] for row in raw.execute("PRAGMA index_list('instances')")}
    assert "ix_instances_status_due" in indexes


def differences(metadata: MetaData, tmp_path: Path) -> tuple[list, str]:
    """What a store made by the migrations lacks against ``metadata``, and the operations
    (as code for a new migration) that would add it."""
    engine = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            found = compare_metadata(context, metadata)
            code = render_python_code(produce_migrations(context, metadata).upgrade_ops)
    finally:
        engine.dispose()
    return found, code


def test_the_models_match_the_newest_migration(tmp_path: Path) -> None:
    found, code = differences(Base.metadata, tmp_path)
    assert found == [], (
        "models.py and the migrations differ: add a migration in "
        f"opscenter/store/migrations/versions/ (see its __init__), e.g.\n{code}"
    )


def test_a_model_change_without_a_migration_is_seen(tmp_path: Path) -> None:
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["audit"].append_column(Column("reviewed_by", Integer, nullable=True))
    found, code = differences(changed, tmp_path)
    assert [item[0] for item in found] == ["add_column"]
    assert "reviewed_by" in code


def test_consoles_opening_an_old_store_at_once_upgrade_it_once(old_store: Path) -> None:
    """Each opener has its own engine and connections, as separate processes would."""
    said: list[str] = []
    url = f"sqlite:///{old_store}"

    def opened(_: int) -> None:
        open_store(url, say=said.append).dispose()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(opened, range(4)))
    assert len(said) == 1
    assert sorted(p.name for p in old_store.parent.iterdir() if ".bak-" in p.name) == [
        "state.db.bak-v1"
    ]
