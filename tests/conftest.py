"""Shared fixtures: real SQLite stores and workspaces written to tmp folders."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opscenter.project.loader import load_workspace
from opscenter.store.db import open_store
from opscenter.store.deploy import DeployReport, deploy

DEPLOYED_AT = datetime(2025, 11, 1, 6, 0)  # naive UTC: 14:00 in Asia/Shanghai

# store_url, any_store, any_world: the tests that run on SQLite and on PostgreSQL
pytest_plugins = ["tests.postgres"]


@pytest.fixture(autouse=True)
def _no_personal_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Every verb reads the config file: a developer's own must not steer the tests."""
    monkeypatch.delenv("OPSCENTER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def _umask_per_test() -> Iterator[None]:
    """Opening a DuckDB file makes the process umask owner-only for good (its .wal comes
    back at each write): each test starts from the umask the run began with."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def write_workspace(folder: Path, yaml_text: str, files: dict[str, str] | None = None) -> Path:
    """A workspace folder with the given workspace.yaml (dedented) and extra files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workspace.yaml").write_text(textwrap.dedent(yaml_text), encoding="utf-8")
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    engine = open_store(f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    yield engine
    engine.dispose()


def deploy_folder(engine: Engine, folder: Path, now: datetime = DEPLOYED_AT) -> DeployReport:
    """Deploy with warehouse, landing folder and logs beside the store (beside the workspace
    on a server database), never in the sources."""
    workspace = load_workspace(folder)
    if engine.url.get_backend_name() == "sqlite":
        data_dir = Path(str(engine.url.database)).parent / "data"
    else:
        data_dir = folder.parent / "data"
    return deploy(engine, workspace, folder, data_dir=data_dir, now=now, user="tester")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path, store: Engine):
    """make(yaml) -> a World (tests/harness.py): workspace ``ws`` in UTC, its engine on a
    manual clock, and alice's backend."""
    from tests.harness import worlds

    with worlds(tmp_path, store) as make:
        yield make
