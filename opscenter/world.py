"""Which world a command works in: the workspace folder or name, the store, a deploy.

Shared by the headless verbs and the console, so both open the same store the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import Engine

from opscenter.domain.clock import Clock
from opscenter.domain.times import to_store
from opscenter.project.loader import load_workspace, workspace_file
from opscenter.resources import demo_workspace
from opscenter.store.audit import os_user
from opscenter.store.db import default_url, open_store, state_home
from opscenter.store.deploy import DeployReport, deploy


def store_for(args: argparse.Namespace, workspace: str) -> tuple[str, Path]:
    """The database URL and the data folder (warehouse, landing, logs) beside it."""
    url = getattr(args, "db", None) or default_url(workspace)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return url, Path(url.removeprefix("sqlite:///")).expanduser().parent
    return url, state_home() / workspace


def workspace_arg(args: argparse.Namespace) -> tuple[str, Path | None]:
    """(workspace name, its folder if known): --workspace is a folder or a deployed name."""
    given = getattr(args, "workspace", None)
    path = Path(given) if given else demo_workspace()
    if path.exists():
        return load_workspace(path).name, path
    return str(given), None


def open_named(args: argparse.Namespace) -> tuple[str, Engine]:
    name, _folder = workspace_arg(args)
    url, _ = store_for(args, name)
    return name, open_store(url)


def deploy_workspace(
    args: argparse.Namespace, path: Path, clock: Clock
) -> tuple[DeployReport, Engine]:
    workspace = load_workspace(path)
    url, data_dir = store_for(args, workspace.name)
    db = open_store(url)
    now = to_store(clock.now())
    report = deploy(
        db, workspace, workspace_file(path).parent, data_dir=data_dir, now=now, user=os_user()
    )
    return report, db
