"""The ``opscenter`` command: the demo by default, and headless verbs for scripts.

Every failure an operator can cause (a bad workspace, a database of another
version, a refused action, a mistyped id, a missing file) ends in a clear message and a
non-zero exit, never a traceback: 1 invalid workspace, 2 usage or store problem (a
mistyped command too), 3 action refused, 4 not found (an instance, event, backfill,
baseline, attempt or node named that is not there). The options that choose the world
are read once, into ``Options``; the grammar is ``arguments``, the verbs ``verbs``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from opscenter import __version__, secrets
from opscenter.arguments import Command, parser
from opscenter.backends.base import Backend
from opscenter.domain.clock import Clock, RealClock
from opscenter.domain.records import ActionRefused, NotFound, not_deployed
from opscenter.errors import UsageError
from opscenter.options import Options, gather
from opscenter.project.problems import WorkspaceError
from opscenter.store.basics import StoreError
from opscenter.verbs import acting, backfills, baselines, emergency, reading, status

if TYPE_CHECKING:
    from opscenter.backends.local import LocalBackend

# Each command imports what it uses when it runs, not here: a read verb loads neither the
# console (Textual), the scheduler (DuckDB), DataWorks (httpx) nor Alembic, and a command
# that starts itself again without the operator's secrets (``_shielded``) does so before
# loading the store's SQLAlchemy.


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Command = args.handler or (_CONSOLE if _in_terminal() else _PIPED)
    try:
        secrets.receive()
        options = gather(args, os.environ, with_config=handler.over_backend)
        if argv is None and (kept := _shielded(handler, options)) is not None:
            secrets.shield(kept)  # this process is the command: it may start itself again
        return handler(args, options, clock or RealClock())
    except WorkspaceError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (StoreError, UsageError) as exc:
        print(f"opscenter: {exc}", file=sys.stderr)
        return 2
    except NotFound as exc:  # before ActionRefused, which it is too
        if args.json:
            print(json.dumps({"not_found": exc.reason}))
        print(f"opscenter: {exc.reason}", file=sys.stderr)
        return 4
    except ActionRefused as exc:
        if args.json:
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
    except Exception as exc:
        reason = _store_unusable(exc)
        if reason is None:
            raise
        print(f"opscenter: the state database could not be used: {reason}", file=sys.stderr)
        return 2


def _store_unusable(exc: Exception) -> str | None:
    """Why the store could not be used, if ``exc`` says so: busy past its timeout, or
    unreadable (SQLAlchemy's OperationalError, loaded already by what raised one)."""
    from sqlalchemy.exc import OperationalError

    return str(exc.orig) if isinstance(exc, OperationalError) else None


def _parser() -> argparse.ArgumentParser:
    return parser(_COMMANDS)


def _in_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _shielded(handler: Command, options: Options) -> secrets.Kept | None:
    """What a command that runs nodes (the scheduler, the console running one), holds the
    emulator's key or lives long (any console) keeps of the operator's secrets; None for
    any other, which need not start again (see ``opscenter.secrets``)."""
    if handler is _CONSOLE and options.wants_dataworks:
        from opscenter.backends.dataworks.client import KEPT as DATAWORKS

        return DATAWORKS
    local = handler.name if isinstance(handler, _LocalOnly) else None
    if handler is _CONSOLE or local in ("scheduler", "serve"):
        return secrets.Kept()
    if isinstance(handler, _LocalOnly) and handler.name == "emulate":
        from opscenter.backends.dataworks.emulator.gateway import KEPT

        return KEPT
    return None


# -- the world: workspace, store, backend --------------------------------------------


def _backend(options: Options, clock: Clock, source: str = "cli") -> LocalBackend:
    from opscenter import world
    from opscenter.backends.local import LocalBackend
    from opscenter.scheduler.worldclock import StoreClock
    from opscenter.store import summary
    from opscenter.store.audit import os_user

    name, db = world.open_named(options)
    if summary.workspace_id(db, name) is None:
        raise UsageError(not_deployed(name))
    world_clock = StoreClock(db, clock)  # the world's time, as its scheduler publishes it
    return LocalBackend(
        db, name, world_clock, user=os_user(), readonly=options.readonly, source=source
    )


Verb = Callable[[Backend, argparse.Namespace, Options], int]
Handler = Callable[[argparse.Namespace, Options, Clock], int]


@dataclass(frozen=True)
class _Verb:
    """A headless verb run on the backend the command names (``--backend``, before or after
    the verb, else the config file's): the local store, or a DataWorks workspace, never
    one standing in for the other."""

    verb: Verb
    over_backend: ClassVar[bool] = True

    def __call__(self, args: argparse.Namespace, options: Options, clock: Clock) -> int:
        if not options.wants_dataworks:
            return self.verb(_backend(options, clock), args, options)
        from opscenter import remote

        with remote.dataworks(options, clock) as backend:
            return self.verb(backend, args, options)


@dataclass(frozen=True)
class _LocalOnly:
    """A command on local workspaces only (validate, deploy, summary, scheduler, emulate):
    given ``--backend dataworks`` it refuses rather than act on a local store instead. It
    reads no config file: the command line alone says where it acts."""

    name: str
    handler: Handler
    over_backend: ClassVar[bool] = False

    def __call__(self, args: argparse.Namespace, options: Options, clock: Clock) -> int:
        if options.wants_dataworks:
            raise UsageError(
                f"'opscenter {self.name}' works on a local workspace; "
                "--backend dataworks is not for it"
            )
        return self.handler(args, options, clock)


@dataclass(frozen=True)
class _Console:
    """``opscenter`` in a terminal: the console, on the backend its options name."""

    over_backend: ClassVar[bool] = True

    def __call__(self, args: argparse.Namespace, options: Options, clock: Clock) -> int:
        from opscenter.console import run_console

        return run_console(options, clock)


@dataclass(frozen=True)
class _Piped:
    """``opscenter`` piped or redirected: the summary of the world the console would open
    (a console needs a screen), over DataWorks too, never the local demo instead."""

    over_backend: ClassVar[bool] = True

    def __call__(self, args: argparse.Namespace, options: Options, clock: Clock) -> int:
        print(
            "(not a terminal: printing the summary; run opscenter in a terminal for the console)",
            file=sys.stderr,
        )
        if not options.wants_dataworks:
            return _summary(args, options, clock)
        from opscenter import remote

        with remote.dataworks(options, clock) as backend:
            print(status.report(backend, None, utc=options.utc, as_json=False))
        return 0


# -- handlers -------------------------------------------------------------------------


def _validate(args: argparse.Namespace, _options: Options, _clock: Clock) -> int:
    from opscenter.project.loader import load_workspace, workspace_file

    workspace = load_workspace(args.path)
    print(
        f"{workspace_file(args.path)}: ok: workspace {workspace.name}, "
        f"{len(workspace.nodes) - 1} nodes (+ root {workspace.root_name}), "
        f"{len(workspace.resource_groups)} resource groups, {len(workspace.baselines)} baselines"
    )
    return 0


def _deploy(args: argparse.Namespace, options: Options, clock: Clock) -> int:
    from opscenter import world

    report, _db = world.deploy_workspace(options, Path(args.path), clock)
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


def _summary(_args: argparse.Namespace, options: Options, clock: Clock) -> int:
    """Deploy the workspace (the demo unless --workspace), generate today, and print what
    ``status`` prints. Read-only, it summarises what is deployed and writes nothing."""
    from opscenter import world
    from opscenter.backends.local import LocalBackend
    from opscenter.domain.rules import bizdate_of
    from opscenter.domain.times import to_store
    from opscenter.scheduler.generate import ensure_generated
    from opscenter.scheduler.worldclock import StoreClock
    from opscenter.store import summary
    from opscenter.store.audit import os_user
    from opscenter.store.db import open_store, unwritable

    name, folder = world.workspace_arg(options)
    url, _ = world.store_for(options, name)
    db = open_store(url)
    now = StoreClock(db, clock)  # the world's clock, whoever's scheduler runs it
    print(f"opscenter {__version__} · workspace {name}")
    print(f"state: {url}")
    cannot_write = unwritable(db)
    if cannot_write:
        print(f"read-only: {cannot_write}; summarising what is there")
        options = replace(options, readonly=True)
    if folder is not None and not options.readonly:
        if options.is_demo:
            report, db, _ = world.deploy_bundled(options, folder, now)
        else:
            report, db = world.deploy_workspace(options, folder, now)
        print(report.summary)
    workspace_id = summary.workspace_id(db, name)
    if workspace_id is None:
        hint = "run 'opscenter deploy PATH'"
        if options.readonly:
            hint = f"a read-only summary deploys nothing; {hint}"
        raise UsageError(not_deployed(name, hint))
    if not options.readonly:
        zone = summary.workspace_zone(db, workspace_id)
        generated_days = ensure_generated(db, workspace_id, to_store(now.now()))
        for generated in generated_days:
            print(
                f"generated {generated.instances} instances and {generated.edges} dependencies "
                f"for {generated.day} (bizdate {bizdate_of(generated.day)})"
            )
        if not generated_days:
            print(f"today's instances ({now.now().astimezone(zone).date()}) were already generated")
    backend = LocalBackend(
        db, name, StoreClock(db, clock), user=os_user(), readonly=options.readonly, source="cli"
    )
    print()
    print(status.report(backend, None, utc=options.utc, as_json=False))
    return 0


def _emulate(args: argparse.Namespace, options: Options, clock: Clock) -> int:
    """Serve the deployed workspace over the DataWorks OpenAPI until SIGINT/SIGTERM."""
    from opscenter.backends.dataworks import emulator

    try:
        keys = emulator.credentials_from(args.access_key_id, args.access_key_secret)
        emulator.serve(_backend(options, clock, source="emulator"), keys, args.host, args.port)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    return 0


def _scheduler(_args: argparse.Namespace, options: Options, clock: Clock) -> int:
    """Deploy the workspace if a folder is known, then run the engine until stopped."""
    from zoneinfo import ZoneInfo

    from opscenter import world
    from opscenter.project.loader import load_workspace
    from opscenter.store import summary

    if options.readonly:
        raise UsageError(
            "a scheduler writes (it generates, starts, finishes and retries instances), so "
            "--readonly cannot run one; read with 'opscenter status --readonly' or a "
            "'--readonly' console"
        )
    name, folder = world.workspace_arg(options)
    name, db = world.open_named(options)
    known = summary.workspace_id(db, name)
    if folder is None and known is None:
        raise UsageError(not_deployed(name, ""))
    if folder is not None:
        zone = ZoneInfo(load_workspace(folder).timezone)
    else:
        assert known is not None
        zone = summary.workspace_zone(db, known)
    plan = world.clock_plan(options, db, clock, zone)
    # the deploy happens at the world's moment, or the next nightly generation would find
    # every node deployed "in the future"
    now = world.provisional_now(db, plan)
    workspace_id = known
    if folder is not None:
        if options.is_demo:
            report, db, _ = world.deploy_bundled(options, folder, now)
        else:
            report, db = world.deploy_workspace(options, folder, now)
        print(report.summary)
        workspace_id = report.workspace_id
    assert workspace_id is not None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    from opscenter.scheduler import daemon  # the one command that runs a scheduler

    daemon.run_scheduler(db, workspace_id, plan, stop, say=lambda text: print(text, flush=True))
    return 0


def _serve(args: argparse.Namespace, options: Options, clock: Clock) -> int:
    """The console in a browser; ``--session PID``: one browser connection's console,
    started by the serve process PID."""
    from opscenter import serve

    if args.session is not None:
        return serve.session(options, clock, args.session)
    return serve.serve(
        options,
        clock,
        host=args.host,
        port=args.port,
        expose=args.expose,
        allow_actions=args.allow_actions,
    )


_CONSOLE, _PIPED = _Console(), _Piped()
_VERBS: dict[str, Verb] = {
    "status": status.status,
    "nodes": reading.nodes,
    "node": reading.node,
    "instances": reading.instances,
    "show": reading.show,
    "logs": reading.logs,
    "why": reading.why,
    "audit": reading.audit,
    "rerun": acting.rerun,
    "set-success": acting.set_success,
    "stop": acting.stop,
    "freeze": acting.freeze,
    "unfreeze": acting.unfreeze,
    "undeploy": acting.undeploy,
    "event": acting.event,
    "unblock": emergency.unblock,
    "priority": emergency.priority,
    "move": emergency.move,
    "test-run": emergency.test_run,
    "run": emergency.run,
    "backfill": backfills.backfill,
    "backfills": backfills.backfills,
    "baselines": baselines.baselines,
    "baseline": baselines.baseline,
    "events": baselines.events,
    "alerts": baselines.alerts,
}
_LOCAL: dict[str, Handler] = {
    "summary": _summary,
    "validate": _validate,
    "deploy": _deploy,
    "scheduler": _scheduler,
    "emulate": _emulate,
    "serve": _serve,
}
_COMMANDS: dict[str, Command] = {name: _Verb(verb) for name, verb in _VERBS.items()} | {
    name: _LocalOnly(name, handler) for name, handler in _LOCAL.items()
}
