"""The ``opscenter`` command: the demo by default, and headless verbs for scripts.

Every failure an operator can cause (a bad workspace, a database of another
version, a missing file) ends in a clear message and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from opscenter import __version__
from opscenter.domain.clock import Clock, RealClock
from opscenter.domain.model import Workspace
from opscenter.project.loader import load_workspace, workspace_file
from opscenter.project.problems import WorkspaceError
from opscenter.resources import demo_workspace
from opscenter.scheduler.generate import ensure_generated
from opscenter.store import summary
from opscenter.store.audit import os_user
from opscenter.store.db import StoreError, default_url, open_store, state_home
from opscenter.store.deploy import DeployReport, deploy


class UsageError(Exception):
    """A mistake on the command line or in its inputs: printed, exit status 2."""


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace, Clock], int] = getattr(args, "handler", _run_demo)
    try:
        return handler(args, clock or RealClock())
    except WorkspaceError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (StoreError, UsageError) as exc:
        print(f"opscenter: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opscenter",
        description="Operations console for batch data pipelines (DataWorks Operation Center). "
        "With no command: deploy the demo workspace and show today's instances.",
    )
    parser.add_argument("--version", action="version", version=f"opscenter {__version__}")
    _store_options(parser)
    parser.add_argument("--workspace", metavar="PATH", help="workspace folder (default: the demo)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a workspace and report every problem")
    validate.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")
    validate.set_defaults(handler=_validate)

    deploy_cmd = commands.add_parser("deploy", help="validate and deploy a workspace")
    deploy_cmd.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")
    _store_options(deploy_cmd)
    deploy_cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    deploy_cmd.set_defaults(handler=_deploy)

    status = commands.add_parser("status", help="instance counts for a business date")
    status.add_argument("--workspace", metavar="PATH", help="workspace folder (default: the demo)")
    _store_options(status)
    status.add_argument(
        "--bizdate", type=_date, help="business date yyyy-mm-dd (default: yesterday)"
    )
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=_status)
    return parser


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="state database, any SQLAlchemy URL "
        "(default: $XDG_STATE_HOME/opscenter/<workspace>/state.db)",
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (yyyy-mm-dd)") from None


def _store_for(args: argparse.Namespace, workspace: str) -> tuple[str, Path]:
    """The database URL and the data folder (warehouse, landing, logs) beside it."""
    url = getattr(args, "db", None) or default_url(workspace)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return url, Path(url.removeprefix("sqlite:///")).expanduser().parent
    return url, state_home() / workspace


def _validate(args: argparse.Namespace, _clock: Clock) -> int:
    workspace = load_workspace(args.path)
    print(
        f"{workspace_file(args.path)}: ok: workspace {workspace.name}, "
        f"{len(workspace.nodes) - 1} nodes, {len(workspace.resource_groups)} resource groups, "
        f"{len(workspace.baselines)} baselines"
    )
    return 0


def _deploy_workspace(
    args: argparse.Namespace, path: Path, clock: Clock
) -> tuple[Workspace, DeployReport, object]:
    workspace = load_workspace(path)
    url, data_dir = _store_for(args, workspace.name)
    engine = open_store(url)
    folder = workspace_file(path).parent
    now = clock.now().replace(tzinfo=None)
    report = deploy(engine, workspace, folder, data_dir=data_dir, now=now, user=os_user())
    return workspace, report, engine


def _deploy(args: argparse.Namespace, clock: Clock) -> int:
    _workspace, report, _engine = _deploy_workspace(args, Path(args.path), clock)
    if args.json:
        print(json.dumps(report.__dict__, indent=2))
    else:
        print(report.summary)
        for label, names in (("added", report.added), ("changed", report.changed),
                             ("removed", report.removed)):  # fmt: skip
            if names:
                print(f"  {label}: {', '.join(names)}")
    return 0


def _today(workspace: Workspace, clock: Clock) -> date:
    return clock.now().astimezone(ZoneInfo(workspace.timezone)).date()


def _run_demo(args: argparse.Namespace, clock: Clock) -> int:
    """Deploy the workspace (the demo unless --workspace), generate today, summarise."""
    path = Path(args.workspace) if args.workspace else demo_workspace()
    workspace, report, engine = _deploy_workspace(args, path, clock)
    today = _today(workspace, clock)
    now = clock.now().astimezone(UTC).replace(tzinfo=None)
    url, _ = _store_for(args, workspace.name)
    print(f"opscenter {__version__} · workspace {workspace.name} · state {url}")
    print(report.summary)
    for generated in ensure_generated(engine, report.workspace_id, now):
        print(
            f"generated {generated.instances} instances and {generated.edges} dependencies "
            f"for {generated.day} (bizdate {generated.day - timedelta(days=1)})"
        )
    bizdate = today - timedelta(days=1)
    print()
    print(summary.render(summary.collect(engine, report.workspace_id, bizdate, clock.now())))
    return 0


def _status(args: argparse.Namespace, clock: Clock) -> int:
    path = Path(args.workspace) if args.workspace else demo_workspace()
    workspace = load_workspace(path)
    url, _ = _store_for(args, workspace.name)
    engine = open_store(url)
    workspace_id = summary.workspace_id(engine, workspace.name)
    if workspace_id is None:
        raise UsageError(
            f"workspace {workspace.name} is not deployed in {url}; run 'opscenter deploy'"
        )
    bizdate = args.bizdate or _today(workspace, clock) - timedelta(days=1)
    report = summary.collect(engine, workspace_id, bizdate, clock.now())
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(summary.render(report))
    return 0
