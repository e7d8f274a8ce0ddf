"""The command line's grammar: every command, its options and how each value is checked.

A value that is not what an option takes (a date, an id, a speed) is refused here, as a
usage error naming it, before any command runs; what a command does is in ``cli``.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Protocol

from opscenter import __version__
from opscenter.config import API_VERSIONS, BACKENDS
from opscenter.domain.clock import Clock
from opscenter.domain.model import Status
from opscenter.domain.preconditions import PRIORITIES
from opscenter.options import Options
from opscenter.store.basics import LARGEST_ID
from opscenter.verbs.reading import INSTANCE_KINDS


class Command(Protocol):
    """What a command runs, with its parsed arguments, the world's options and the clock."""

    @property
    def over_backend(self) -> bool:
        """A verb on the backend ``--backend`` names: the DataWorks options may follow it,
        and the config file fills what the command line left out."""
        ...

    def __call__(self, args: argparse.Namespace, options: Options, clock: Clock) -> int: ...


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


def parser(handlers: Mapping[str, Command]) -> argparse.ArgumentParser:
    """Every command and option; ``handlers`` says what each command runs (and so whether
    the DataWorks options follow it)."""
    parser = _Parser(
        prog="opscenter",
        description="Operations console for batch data pipelines (DataWorks Operation Center). "
        "With no command: deploy the demo workspace and show today's instances.",
    )
    parser.add_argument("--version", action="version", version=f"opscenter {__version__}")
    parser.set_defaults(handler=None, json=False)  # no command: the console
    _world_options(parser)
    _console_options(parser)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, help_: str, *, world: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        handler = handlers[name]
        if world:
            _world_options(sub)
        if handler.over_backend:  # so they can follow the verb as well as precede it
            _dataworks_options(sub)
        sub.set_defaults(handler=handler)
        return sub

    command(
        "summary",
        "deploy the workspace (default: the demo), generate today and print a summary",
    )

    validate = command("validate", "check a workspace and report every problem", world=False)
    validate.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")

    deploy_cmd = command("deploy", "validate and deploy a workspace", world=False)
    deploy_cmd.add_argument("path", metavar="PATH", help="workspace folder or its workspace.yaml")
    _db_option(deploy_cmd)
    _json_option(deploy_cmd)

    status = command("status", "instance counts for a business date")
    status.add_argument(
        "--bizdate", type=_date, help="business date yyyy-mm-dd (default: yesterday)"
    )
    _json_option(status)

    scheduler = command("scheduler", "run the scheduler headless (one per database)")
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

    nodes = command("nodes", "list auto-triggered nodes")
    nodes.add_argument("--owner")
    nodes.add_argument("--type")
    nodes.add_argument("--text", help="part of the node name")
    _json_option(nodes)

    node = command(
        "node",
        "one node: schedule in words, next fire times, dependencies, code",
    )
    node.add_argument("name")
    _json_option(node)

    instances = command(
        "instances",
        "list instances (default: yesterday's business date)",
    )
    instances.add_argument("--bizdate", type=_date)
    instances.add_argument("--all-dates", action="store_true", help="every business date")
    instances.add_argument("--status", type=_statuses, help="e.g. FAILURE or NOT_RUN,WAIT_TIME")
    instances.add_argument("--node")
    instances.add_argument("--owner")
    instances.add_argument("--kind", choices=INSTANCE_KINDS)
    instances.add_argument("--backfill", type=_id, metavar="ID")
    instances.add_argument("--text", help="part of the node name")
    instances.add_argument("--limit", type=_positive, default=100)
    instances.add_argument("--desc", action="store_true", help="newest cyctime first")
    _json_option(instances)

    show = command("show", "one instance with its attempts")
    show.add_argument("id", type=_id)
    _json_option(show)

    logs = command("logs", "an instance's run log")
    logs.add_argument("id", type=_id)
    logs.add_argument("--attempt", type=_id, help="attempt number (default: the latest)")
    logs.add_argument("--follow", "-f", action="store_true", help="follow while it runs")

    why = command("why", "why isn't it running? (diagnosis)")
    why.add_argument("id", type=_id)
    _json_option(why)

    for name, help_ in (
        ("rerun", "rerun instances (with --downstream: and every descendant)"),
        ("set-success", "set failed instances to success"),
        ("stop", "stop running or waiting instances (they fail)"),
    ):
        sub = command(name, help_)
        sub.add_argument("ids", type=_id, nargs="+", metavar="ID")
        if name == "rerun":
            sub.add_argument("--downstream", action="store_true")
            sub.add_argument(
                "--preview",
                action="store_true",
                help="say what it would reset and what that does to the baselines; do nothing",
            )
        _json_option(sub)
    for name, help_ in (
        ("freeze", "freeze instances, or a node (--node) from its next instances"),
        ("unfreeze", "unfreeze instances, or a node (--node)"),
    ):
        sub = command(name, help_)
        sub.add_argument("ids", type=_id, nargs="*", metavar="ID")
        sub.add_argument("--node", metavar="NAME")
        _json_option(sub)

    _emergency(command)

    backfill = command("backfill", "backfill a node over business dates")
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

    backfills = command("backfills", "backfills with progress per date")
    backfills.add_argument("id", type=_id, nargs="?")
    _json_option(backfills)

    undeploy = command("undeploy", "undeploy a node without descendants")
    undeploy.add_argument("node")
    _json_option(undeploy)

    baselines = command(
        "baselines",
        "baselines of a business date: status, prediction, slack",
    )
    baselines.add_argument("--bizdate", type=_date)
    _json_option(baselines)

    baseline = command(
        "baseline",
        "one baseline: prediction, key path (Gantt), events",
    )
    baseline.add_argument("name")
    baseline.add_argument("--bizdate", type=_date)
    baseline.add_argument("--cycle", type=_id, default=1, help="hourly baselines: the cycle")
    baseline.add_argument("--keypath", action="store_true", help="show the key path as a Gantt")
    _json_option(baseline)

    events = command("events", "baseline events (ERROR, SLOW) on key-path instances")
    events.add_argument("--open", action="store_true", help="only NEW and FIXING")
    events.add_argument("--limit", type=_positive, default=50)
    _json_option(events)

    event = command("event", "handle an event: fixing, recover or ignore")
    event.add_argument("id", type=_id)
    event.add_argument(
        "status", choices=["fixing", "recover", "ignore", "FIXING", "RECOVER", "IGNORE"]
    )
    _json_option(event)

    alerts = command("alerts", "alerts raised by the workspace's alert rules")
    alerts.add_argument("--limit", type=_positive, default=50)
    _json_option(alerts)

    audit = command("audit", "who did what, when")
    audit.add_argument("--limit", type=_positive, default=50)
    _json_option(audit)

    _serve(command("serve", "the console in a browser (textual-serve), for demos and links"))

    emulate = command(
        "emulate", "serve the workspace over the DataWorks OpenAPI (a local emulator)"
    )
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=_port, default=8080)
    emulate.add_argument(
        "--access-key-id",
        help="the key id clients sign with (or $OPSCENTER_EMULATOR_ACCESS_KEY_ID)",
    )
    emulate.add_argument(
        "--access-key-secret",
        help="its secret; better in $OPSCENTER_EMULATOR_ACCESS_KEY_SECRET: ps shows every "
        "command line to every user (until the emulator starts without it) and the shell's "
        "history keeps it",
    )
    return parser


def _serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to answer on (default: loopback)"
    )
    serve.add_argument("--port", type=_port, default=8000, help="0: any free port (default 8000)")
    serve.add_argument(
        "--expose",
        action="store_true",
        help="allow a --host that is not loopback: anyone who reaches the port gets the console",
    )
    serve.add_argument(
        "--allow-actions",
        action="store_true",
        help="let browser consoles act (rerun, freeze, ...); default: read-only",
    )
    _console_options(serve, backend=False)
    serve.add_argument("--session", type=_positive, metavar="PID", help=argparse.SUPPRESS)


def _emergency(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The emergency operations on instances and the runs on demand (spec 6.1, 6.5): each
    audited with ``--comment``, each previewed with ``--preview``."""
    unblock = command(
        "unblock",
        "emergency: remove upstream dependencies of an instance (default: every upstream "
        "instance not SUCCESS), so it runs without them",
    )
    unblock.add_argument("id", type=_id, metavar="ID")
    unblock.add_argument(
        "--upstream", type=_ids, metavar="ID,...", help="only these upstream instances"
    )
    _acting_options(
        unblock,
        "say which upstreams it would remove and what that does to the baselines; do nothing",
    )

    priority = command(
        "priority", "emergency: change the priority of instances not finished (1, 3, 5, 7, 8)"
    )
    priority.add_argument("ids", type=_id, nargs="+", metavar="ID")
    priority.add_argument("priority", type=_priority, metavar="N", help="1, 3, 5, 7 or 8")
    _acting_options(priority, "say what it would change; do nothing")

    move = command("move", "emergency: move instances not finished to another resource group")
    move.add_argument("ids", type=_id, nargs="+", metavar="ID")
    move.add_argument("--group", required=True, metavar="G", help="the resource group")
    _acting_options(move, "say what it would change; do nothing")

    test_run = command(
        "test-run",
        "run an auto-triggered node once for a business date (a test instance: no upstream "
        "waited for, no downstream)",
    )
    test_run.add_argument("node", metavar="NODE")
    test_run.add_argument("--bizdate", type=_date, required=True, help="yyyy-mm-dd")
    _acting_options(test_run, "say what it would run; do nothing")

    run = command(
        "run",
        "run a manually triggered workflow for a business date (its nodes in dependency "
        "order, or only --node ones)",
    )
    run.add_argument("workflow", metavar="WORKFLOW")
    run.add_argument("--bizdate", type=_date, required=True, help="yyyy-mm-dd")
    run.add_argument(
        "--node",
        dest="nodes",
        action="append",
        default=[],
        metavar="NAME",
        help="only this node of the workflow (repeat for more)",
    )
    _acting_options(run, "say what it would run; do nothing")


def _acting_options(parser: argparse.ArgumentParser, preview: str) -> None:
    parser.add_argument("--comment", default="", metavar="TEXT", help="why (audited)")
    parser.add_argument("--preview", action="store_true", help=preview)
    _json_option(parser)


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


def _console_options(parser: argparse.ArgumentParser, *, backend: bool = True) -> None:
    console = parser.add_argument_group("console (opscenter with no command, and serve)")
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
    if backend:
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


def _ids(text: str) -> list[int]:
    """Ids, comma-separated."""
    return [_id(part.strip()) for part in text.split(",")]


def _priority(text: str) -> int:
    if text.strip() not in {str(p) for p in PRIORITIES}:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a priority DataWorks accepts ({', '.join(map(str, PRIORITIES))})"
        )
    return int(text)


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
