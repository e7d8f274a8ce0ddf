"""The ``opscenter`` command: the demo by default, and headless verbs for scripts.

Every failure an operator can cause (a bad workspace, a database of another
version, a refused action, a mistyped id, a missing file) ends in a clear message and a
non-zero exit, never a traceback: 1 invalid workspace, 2 usage or store problem (a
mistyped command too), 3 action refused, 4 not found (an instance, event, backfill,
baseline, attempt or node named that is not there).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from opscenter import __version__, remote, verbs, world
from opscenter.backends.base import Backend
from opscenter.backends.local import LocalBackend
from opscenter.config import API_VERSIONS, BACKENDS, apply_config
from opscenter.domain.clock import Clock, RealClock
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, NotFound
from opscenter.domain.rules import bizdate_of, default_bizdate
from opscenter.domain.times import to_store
from opscenter.project.loader import load_workspace, workspace_file
from opscenter.project.problems import WorkspaceError
from opscenter.scheduler.daemon import run_scheduler
from opscenter.scheduler.generate import ensure_generated
from opscenter.scheduler.worldclock import StoreClock
from opscenter.store import summary
from opscenter.store.audit import os_user
from opscenter.store.db import LARGEST_ID, StoreError, open_store
from opscenter.verbs import UsageError


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, Clock], int] = getattr(args, "handler", _console)
    try:
        return handler(args, clock or RealClock())
    except WorkspaceError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (StoreError, UsageError) as exc:
        print(f"opscenter: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:  # before ActionRefused, which it is too
        if getattr(args, "json", False):
            print(json.dumps({"not_found": exc.reason}))
        print(f"opscenter: {exc.reason}", file=sys.stderr)
        return 4
    except ActionRefused as exc:
        if getattr(args, "json", False):
            print(json.dumps({"refused": exc.reason}))
        print(f"refused: {exc.reason}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path the system refuses (too long, not permitted, ...)
        print(f"opscenter: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:  # a store busy past its timeout, or unreadable
        print(f"opscenter: the state database could not be used: {exc.orig}", file=sys.stderr)
        return 2


# -- the parser ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """The top-level parser: a mistyped command is one line naming the nearest one and
    where help is, not the whole usage."""

    def _check_value(self, action: argparse.Action, value: object) -> None:
        commands = action.choices if isinstance(action, argparse._SubParsersAction) else None
        if commands is not None and value not in commands:
            nearest = difflib.get_close_matches(str(value), list(commands), n=1)
            guess = f"; did you mean '{nearest[0]}'?" if nearest else ""
            self.exit(
                2,
                f"opscenter: unknown command '{value}'{guess}\n"
                "'opscenter --help' lists the commands, 'opscenter COMMAND --help' their options\n",
            )
        super()._check_value(action, value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="opscenter",
        description="Operations console for batch data pipelines (DataWorks Operation Center). "
        "With no command: deploy the demo workspace and show today's instances.",
    )
    parser.add_argument("--version", action="version", version=f"opscenter {__version__}")
    _world_options(parser)
    _console_options(parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str, help_: str, handler: Callable, *, world: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        if world:
            _world_options(sub)
        if isinstance(handler, _Verb):  # so they can follow the verb as well as precede it
            _dataworks_options(sub)
        else:
            handler = _LocalOnly(name, handler)
        sub.set_defaults(handler=handler)
        return sub

    command(
        "summary",
        "deploy the workspace (default: the demo), generate today and print a summary",
        _summary,
    )

    validate = command(
        "validate", "check a workspace and report every problem", _validate, world=False
    )
    validate.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")

    deploy_cmd = command("deploy", "validate and deploy a workspace", _deploy, world=False)
    deploy_cmd.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")
    _db_option(deploy_cmd)
    _json_option(deploy_cmd)

    status = command("status", "instance counts for a business date", _with_backend(verbs.status))
    status.add_argument(
        "--bizdate", type=_date, help="business date yyyy-mm-dd (default: yesterday)"
    )
    _json_option(status)

    scheduler = command("scheduler", "run the scheduler headless (one per database)", _scheduler)
    scheduler.add_argument(
        "--speed",
        type=_speed,
        help="simulated clock: N simulated seconds per real second; 1 is real time "
        "(default: the world's clock goes on, a simulated world where it stopped)",
    )
    scheduler.add_argument(
        "--start",
        type=_local_time,
        help="simulated start, workspace time 'yyyy-mm-dd hh:mm' (default: now)",
    )

    nodes = command("nodes", "list auto-triggered nodes", _with_backend(verbs.nodes))
    nodes.add_argument("--owner")
    nodes.add_argument("--type")
    nodes.add_argument("--text", help="part of the node name")
    _json_option(nodes)

    node = command(
        "node",
        "one node: schedule in words, next fire times, dependencies, code",
        _with_backend(verbs.node),
    )
    node.add_argument("name")
    _json_option(node)

    instances = command(
        "instances",
        "list instances (default: yesterday's business date)",
        _with_backend(verbs.instances),
    )
    instances.add_argument("--bizdate", type=_date)
    instances.add_argument("--all-dates", action="store_true", help="every business date")
    instances.add_argument("--status", type=_statuses, help="e.g. FAILURE or NOT_RUN,WAIT_TIME")
    instances.add_argument("--node")
    instances.add_argument("--owner")
    instances.add_argument("--kind", choices=verbs.INSTANCE_KINDS)
    instances.add_argument("--backfill", type=_id, metavar="ID")
    instances.add_argument("--text", help="part of the node name")
    instances.add_argument("--limit", type=_positive, default=100)
    instances.add_argument("--desc", action="store_true", help="newest cyctime first")
    _json_option(instances)

    show = command("show", "one instance with its attempts", _with_backend(verbs.show))
    show.add_argument("id", type=_id)
    _json_option(show)

    logs = command("logs", "an instance's run log", _with_backend(verbs.logs))
    logs.add_argument("id", type=_id)
    logs.add_argument("--attempt", type=_id, help="attempt number (default: the latest)")
    logs.add_argument("--follow", "-f", action="store_true", help="follow while it runs")

    why = command("why", "why isn't it running? (diagnosis)", _with_backend(verbs.why))
    why.add_argument("id", type=_id)
    _json_option(why)

    for name, help_, handler in (
        ("rerun", "rerun instances (with --downstream: and every descendant)", verbs.rerun),
        ("set-success", "set failed instances to success", verbs.set_success),
        ("stop", "stop running or waiting instances (they fail)", verbs.stop),
    ):
        sub = command(name, help_, _with_backend(handler))
        sub.add_argument("ids", type=_id, nargs="+", metavar="ID")
        if name == "rerun":
            sub.add_argument("--downstream", action="store_true")
            sub.add_argument(
                "--preview",
                action="store_true",
                help="say what it would reset and what that does to the baselines; do nothing",
            )
        _json_option(sub)
    for name, help_, handler in (
        ("freeze", "freeze instances, or a node (--node) from its next instances", verbs.freeze),
        ("unfreeze", "unfreeze instances, or a node (--node)", verbs.unfreeze),
    ):
        sub = command(name, help_, _with_backend(handler))
        sub.add_argument("ids", type=_id, nargs="*", metavar="ID")
        sub.add_argument("--node", metavar="NAME")
        _json_option(sub)

    backfill = command(
        "backfill", "backfill a node over business dates", _with_backend(verbs.backfill)
    )
    backfill.add_argument("node")
    backfill.add_argument(
        "--from", dest="start", type=_date, required=True, help="first business date"
    )
    backfill.add_argument("--to", dest="end", type=_date, required=True, help="last business date")
    scope = backfill.add_mutually_exclusive_group()
    scope.add_argument("--downstream", action="store_true", help="with every descendant")
    scope.add_argument("--include", metavar="N,...", help="with these descendants")
    backfill.add_argument("--exclude", metavar="N,...", help="leave these out (they dry-run)")
    backfill.add_argument("--parallel", type=int, default=1, help="business dates at once, 1..10")
    backfill.add_argument("--desc", action="store_true", help="newest business date first")
    backfill.add_argument(
        "--window", metavar="HH:MM-HH:MM", help="hourly nodes: slots in this window"
    )
    backfill.add_argument("--name")
    backfill.add_argument(
        "--preview", action="store_true", help="say what it would create, do nothing"
    )
    _json_option(backfill)

    backfills = command(
        "backfills", "backfills with progress per date", _with_backend(verbs.backfills)
    )
    backfills.add_argument("id", type=_id, nargs="?")
    _json_option(backfills)

    undeploy = command(
        "undeploy", "undeploy a node without descendants", _with_backend(verbs.undeploy)
    )
    undeploy.add_argument("node")
    _json_option(undeploy)

    baselines = command(
        "baselines",
        "baselines of a business date: status, prediction, slack",
        _with_backend(verbs.baselines),
    )
    baselines.add_argument("--bizdate", type=_date)
    _json_option(baselines)

    baseline = command(
        "baseline",
        "one baseline: prediction, key path (Gantt), events",
        _with_backend(verbs.baseline),
    )
    baseline.add_argument("name")
    baseline.add_argument("--bizdate", type=_date)
    baseline.add_argument("--cycle", type=_id, default=1, help="hourly baselines: the cycle")
    baseline.add_argument("--keypath", action="store_true", help="show the key path as a Gantt")
    _json_option(baseline)

    events = command(
        "events", "baseline events (ERROR, SLOW) on key-path instances", _with_backend(verbs.events)
    )
    events.add_argument("--open", action="store_true", help="only NEW and FIXING")
    events.add_argument("--limit", type=_positive, default=50)
    _json_option(events)

    event = command(
        "event", "handle an event: fixing, recover or ignore", _with_backend(verbs.event)
    )
    event.add_argument("id", type=_id)
    event.add_argument(
        "status", choices=["fixing", "recover", "ignore", "FIXING", "RECOVER", "IGNORE"]
    )
    _json_option(event)

    alerts = command(
        "alerts", "alerts raised by the workspace's alert rules", _with_backend(verbs.alerts)
    )
    alerts.add_argument("--limit", type=_positive, default=50)
    _json_option(alerts)

    audit = command("audit", "who did what, when", _with_backend(verbs.audit))
    audit.add_argument("--limit", type=_positive, default=50)
    _json_option(audit)

    emulate = command(
        "emulate", "serve the workspace over the DataWorks OpenAPI (a local emulator)", _emulate
    )
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=_port, default=8080)
    emulate.add_argument(
        "--access-key-id",
        help="the key id clients sign with (or $OPSCENTER_EMULATOR_ACCESS_KEY_ID)",
    )
    emulate.add_argument(
        "--access-key-secret",
        help="its secret (or $OPSCENTER_EMULATOR_ACCESS_KEY_SECRET)",
    )
    return parser


def _world_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        metavar="PATH|NAME",
        default=argparse.SUPPRESS,
        help="workspace folder, or the name of a deployed one (default: the demo)",
    )
    _db_option(parser)
    parser.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="refuse every action (enforced in the backend)",
    )
    parser.add_argument(
        "--utc",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show times in UTC, labelled UTC (default: the workspace's zone, labelled)",
    )


def _console_options(parser: argparse.ArgumentParser) -> None:
    console = parser.add_argument_group("console (opscenter with no command)")
    console.add_argument(
        "--speed",
        type=_speed,
        default=argparse.SUPPRESS,
        help="simulated clock: N simulated seconds per real second "
        "(the demo runs at 120; a workspace at real time)",
    )
    console.add_argument(
        "--start",
        type=_local_time,
        default=argparse.SUPPRESS,
        help="simulated start, workspace time 'yyyy-mm-dd hh:mm'",
    )
    console.add_argument(
        "--no-scheduler",
        action="store_true",
        default=argparse.SUPPRESS,
        help="attach to a database another scheduler drives; run none here",
    )
    _dataworks_options(parser)
    console.add_argument(
        "--theme",
        default=argparse.SUPPRESS,
        help="opscenter-dark (default), opscenter-light, high-contrast, ansi-dark, "
        "ansi-light, or a theme in ~/.config/opscenter/themes",
    )


def _dataworks_options(parser: argparse.ArgumentParser) -> None:
    """Which world a command acts on: given before the command (for the console too) or
    after it; the sub-parser's SUPPRESS defaults never overwrite the top-level values."""
    options = parser.add_argument_group(
        "backend (the console and every verb; defaults from the config file)"
    )
    options.add_argument(
        "--backend",
        choices=BACKENDS,
        default=argparse.SUPPRESS,
        help="local (default): the embedded scheduler and store; dataworks: a DataWorks "
        "workspace over its OpenAPI (or `opscenter emulate`)",
    )
    options.add_argument("--region", default=argparse.SUPPRESS, help="e.g. cn-shanghai")
    options.add_argument(
        "--workspace-id",
        type=_positive,
        default=argparse.SUPPRESS,
        help="the DataWorks workspace id",
    )
    options.add_argument(
        "--endpoint",
        default=argparse.SUPPRESS,
        help="the OpenAPI endpoint (default: the region's public endpoint)",
    )
    options.add_argument(
        "--profile",
        default=argparse.SUPPRESS,
        help="a profile of ~/.aliyun/config.json (default: ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, "
        "then the CLI's current profile)",
    )
    options.add_argument(
        "--api-version",
        choices=API_VERSIONS,
        default=argparse.SUPPRESS,
        help="2024-05-18 (default; the new Data Studio) or 2020-05-18 (the old DataStudio)",
    )
    options.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="option defaults (default: $OPSCENTER_CONFIG or ~/.config/opscenter/config.yaml); "
        "the command line wins",
    )
    options.add_argument(
        "--timezone",
        default=argparse.SUPPRESS,
        help="the DataWorks workspace's time zone (default Asia/Shanghai)",
    )


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="state database, any SQLAlchemy URL "
        "(default: $XDG_STATE_HOME/opscenter/<workspace>/state.db)",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (yyyy-mm-dd)") from None


def _statuses(text: str) -> str:
    """Status words, comma-separated, any case: checked here so a typo is a usage error."""
    words = [part.strip().upper() for part in text.split(",")]
    for word in words:
        if word not in Status.__members__:
            raise argparse.ArgumentTypeError(
                f"{word!r} is not a status (one of {', '.join(Status.__members__)})"
            )
    return ",".join(words)


def _positive(text: str) -> int:
    """A count: 1 up to the largest number the store holds (a 64-bit integer)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= LARGEST_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return number


def _id(text: str) -> int:
    """An instance, backfill or event id (or a number like it): a whole number the store can
    hold; one it cannot is no id at all."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if abs(number) > LARGEST_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is too large for an id")
    return number


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not 0 < speed < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive speed (e.g. 1, 60, 120)")
    return speed


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0..65535)")
    return int(text)


def _local_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (yyyy-mm-dd hh:mm)") from None
    if not 1971 <= moment.year <= 9998:  # a day of margin for any time zone's offset
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (years 1971..9998)")
    return moment


# -- the world: workspace, store, backend --------------------------------------------


def _backend(args: argparse.Namespace, clock: Clock, source: str = "cli") -> LocalBackend:
    name, db = world.open_named(args)
    if summary.workspace_id(db, name) is None:
        raise UsageError(
            f"workspace {name} is not deployed in this store; run 'opscenter deploy PATH'"
        )
    readonly = getattr(args, "readonly", False)
    world_clock = StoreClock(db, clock)  # the world's time, as its scheduler publishes it
    return LocalBackend(db, name, world_clock, user=os_user(), readonly=readonly, source=source)


@dataclass(frozen=True)
class _Verb:
    """A headless verb run on the backend the command names (``--backend``, before or after
    the verb, else the config file's): the local store, or a DataWorks workspace, never
    one standing in for the other."""

    verb: Callable[[Backend, argparse.Namespace], int]

    def __call__(self, args: argparse.Namespace, clock: Clock) -> int:
        apply_config(args)
        if not remote.wants_dataworks(args):
            return self.verb(_backend(args, clock), args)
        with remote.dataworks(args, clock) as backend:
            return self.verb(backend, args)


def _with_backend(verb: Callable[[Backend, argparse.Namespace], int]) -> _Verb:
    return _Verb(verb)


@dataclass(frozen=True)
class _LocalOnly:
    """A command on local workspaces only (validate, deploy, summary, scheduler, emulate):
    given ``--backend dataworks`` it refuses rather than act on a local store instead."""

    name: str
    handler: Callable[[argparse.Namespace, Clock], int]

    def __call__(self, args: argparse.Namespace, clock: Clock) -> int:
        if remote.wants_dataworks(args):
            raise UsageError(
                f"'opscenter {self.name}' works on a local workspace; "
                "--backend dataworks is not for it"
            )
        return self.handler(args, clock)


# -- handlers -------------------------------------------------------------------------


def _validate(args: argparse.Namespace, _clock: Clock) -> int:
    workspace = load_workspace(args.path)
    print(
        f"{workspace_file(args.path)}: ok: workspace {workspace.name}, "
        f"{len(workspace.nodes) - 1} nodes (+ root {workspace.root_name}), "
        f"{len(workspace.resource_groups)} resource groups, {len(workspace.baselines)} baselines"
    )
    return 0


def _deploy(args: argparse.Namespace, clock: Clock) -> int:
    report, _db = world.deploy_workspace(args, Path(args.path), clock)
    if args.json:
        print(json.dumps(report.__dict__, indent=2))
    else:
        print(report.summary)
        for label, names in (
            ("added", report.added),
            ("changed", report.changed),
            ("removed", report.removed),
        ):
            if names:
                print(f"  {label}: {', '.join(names)}")
    return 0


def _console(args: argparse.Namespace, clock: Clock) -> int:
    """The console in a terminal; piped or redirected, the summary (a console needs a screen)."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from opscenter.console import run_console

        return run_console(args, clock)
    print(
        "(not a terminal: printing the summary; run opscenter in a terminal for the console)",
        file=sys.stderr,
    )
    return _summary(args, clock)


def _summary(args: argparse.Namespace, clock: Clock) -> int:
    """Deploy the workspace (the demo unless --workspace), generate today, summarise.
    Read-only, it summarises what is deployed and writes nothing."""
    readonly = getattr(args, "readonly", False)
    name, folder = world.workspace_arg(args)
    url, _ = world.store_for(args, name)
    db = open_store(url)
    now = StoreClock(db, clock)  # the world's clock, whoever's scheduler runs it
    print(f"opscenter {__version__} · workspace {name}")
    print(f"state: {url}")
    if folder is not None and not readonly:
        if world.is_demo(args):
            report, db, _ = world.deploy_bundled(args, folder, now)
        else:
            report, db = world.deploy_workspace(args, folder, now)
        print(report.summary)
    workspace_id = summary.workspace_id(db, name)
    if workspace_id is None:
        raise UsageError(
            f"workspace {name} is not deployed in this store"
            + (" (a read-only summary deploys nothing)" if readonly else "")
            + "; run 'opscenter deploy PATH'"
        )
    zone = ZoneInfo(summary.workspace_timezone(db, workspace_id))
    if not readonly:
        generated_days = ensure_generated(db, workspace_id, to_store(now.now()))
        for generated in generated_days:
            print(
                f"generated {generated.instances} instances and {generated.edges} dependencies "
                f"for {generated.day} (bizdate {bizdate_of(generated.day)})"
            )
        if not generated_days:
            print(f"today's instances ({now.now().astimezone(zone).date()}) were already generated")
    bizdate = default_bizdate(now.now(), zone)
    print()
    print(summary.render(summary.collect(db, workspace_id, bizdate, now.now())))
    return 0


def _emulate(args: argparse.Namespace, clock: Clock) -> int:
    """Serve the deployed workspace over the DataWorks OpenAPI until SIGINT/SIGTERM."""
    from opscenter.backends.dataworks import emulator

    try:
        keys = emulator.credentials_from(args.access_key_id, args.access_key_secret, os.environ)
        emulator.serve(_backend(args, clock, source="emulator"), keys, args.host, args.port)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    return 0


def _scheduler(args: argparse.Namespace, clock: Clock) -> int:
    """Deploy the workspace if a folder is known, then run the engine until stopped."""
    if getattr(args, "readonly", False):
        raise UsageError(
            "a scheduler writes (it generates, starts, finishes and retries instances), so "
            "--readonly cannot run one; read with 'opscenter status --readonly' or a "
            "'--readonly' console"
        )
    name, folder = world.workspace_arg(args)
    name, db = world.open_named(args)
    known = summary.workspace_id(db, name)
    if folder is None and known is None:
        raise UsageError(f"workspace {name} is not deployed in this store")
    if folder is not None:
        zone = ZoneInfo(load_workspace(folder).timezone)
    else:
        assert known is not None
        zone = ZoneInfo(summary.workspace_timezone(db, known))
    plan = world.clock_plan(args, db, clock, zone)
    # the deploy happens at the world's moment, or the next nightly generation would find
    # every node deployed "in the future"
    now = world.provisional_now(db, plan)
    workspace_id = known
    if folder is not None:
        if world.is_demo(args):
            report, db, _ = world.deploy_bundled(args, folder, now)
        else:
            report, db = world.deploy_workspace(args, folder, now)
        print(report.summary)
        workspace_id = report.workspace_id
    assert workspace_id is not None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    run_scheduler(db, workspace_id, plan, stop, say=lambda text: print(text, flush=True))
    return 0
