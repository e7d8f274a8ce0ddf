"""``opscenter serve``: the console in a browser, for a demo in a room or a link to a colleague.

One world, one scheduler. ``serve`` opens the world as the console does (the demo, or
``--workspace``, deployed; the world's clock planned) and runs its scheduler in this
process, as the console would. Each browser connection gets a console process of its own
(textual-serve starts ``opscenter serve --session``) attached to that world with no
scheduler, and read-only unless ``--allow-actions``: two tabs see one world and one clock,
and closing a tab stops nothing. The server answers on loopback unless ``--expose`` says
otherwise, and then warns that whoever reaches the port gets the console.

``serve`` runs nodes, so it starts itself again without the operator's secrets (see
``opscenter.secrets``); the consoles it starts inherit that clean environment. What a
browser console does is audited as the serving user's, from ``web``.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import sys
from dataclasses import replace

from opscenter.console import check_theme, console_backend, open_world
from opscenter.domain.clock import Clock
from opscenter.errors import UsageError
from opscenter.options import Options
from opscenter.scheduler.daemon import SchedulerThread
from opscenter.world import store_for

SOURCE = "web"  # the audit's word for a browser console
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def exposed_warning(host: str, allow_actions: bool) -> str:
    can = "and act on its world" if allow_actions else "read-only (--allow-actions not given)"
    return (
        f"opscenter serve: WARNING: answering on {host}, not loopback only: anyone who "
        f"reaches this port gets the console, {can}; there is no login"
    )


def serve(
    options: Options, clock: Clock, *, host: str, port: int, expose: bool, allow_actions: bool
) -> int:
    """Serve the console until SIGINT, SIGTERM or SIGHUP; then stop the scheduler."""
    if allow_actions and options.readonly:
        raise UsageError("--readonly and --allow-actions contradict each other: give one")
    check_theme(options)
    try:
        from opscenter.webserver import ConsoleServer, is_loopback, listening_socket
    except ImportError as missing:
        raise UsageError(
            f"opscenter serve needs textual-serve ({missing.name} is missing): "
            "pip install 'opscenter[serve]'"
        ) from None
    if not is_loopback(host) and not expose:
        raise UsageError(
            f"--host {host} is not loopback: anyone who reaches it would get the console; "
            "to serve it there anyway, add --expose"
        )
    sock = listening_socket(host, port)  # a port in use is said before any deploy
    try:
        opened = open_world(options, clock)
        server = ConsoleServer(
            session_command(options, opened.name, allow_actions),
            sock,
            title=f"opscenter · {opened.name}",
        )
        scheduler = None
        if opened.plan is not None:
            scheduler = SchedulerThread(opened.db, opened.workspace_id, opened.plan)
            scheduler.start()
            scheduler.wait_started()
    except BaseException:
        sock.close()
        raise
    if not is_loopback(host):
        print(exposed_warning(host, allow_actions), file=sys.stderr, flush=True)
    if opened.notice:
        print(opened.notice)
    state = f"scheduler {scheduler.describe()}" if scheduler else "no scheduler here (attached)"
    acting = "consoles may act" if allow_actions else "read-only (--allow-actions to act)"
    print(f"opscenter serve: workspace {opened.name}, {state}, {acting}")
    print(f"opscenter serve: the console on {server.url} (Ctrl+C stops)", flush=True)
    try:
        server.run()
    finally:
        if scheduler is not None:
            scheduler.stop()
            print(f"opscenter serve: scheduler stopped ({scheduler.describe()})", flush=True)
    return 0


def session_command(options: Options, name: str, allow_actions: bool) -> str:
    """The shell command textual-serve runs for each browser connection: the world serve
    opened (workspace ``name`` in its store, named as resolved, not as given: a workspace
    folder edited meanwhile must not send a tab to another store), no scheduler, and
    ``--readonly`` unless actions are allowed. The shell gives way to the console
    (``exec``), whose parent is then this process."""
    url, _ = store_for(options, name)
    argv = [sys.executable, "-m", "opscenter", "serve", "--session", str(os.getpid())]
    argv += ["--workspace", name, "--db", url]
    if options.theme:
        argv += ["--theme", options.theme]
    if not allow_actions:
        argv.append("--readonly")
    return f"exec {shlex.join(argv)}"


def session(options: Options, clock: Clock, server: int) -> int:
    """One browser connection's console: attached to the world ``serve`` (pid ``server``)
    schedules, with no eye on a terminal (its input is textual-serve's pipe, never a tty),
    and ended with that server however it ends."""
    if not _ends_with(server):
        return 0
    check_theme(options)
    opened = open_world(replace(options, no_scheduler=True), clock)
    backend = console_backend(opened, options, clock, source=SOURCE)
    from opscenter.tui.app import OpsApp

    app = OpsApp(backend, theme=options.theme)
    app.run()
    return app.return_code or 0


def _ends_with(server: int) -> bool:
    """SIGTERM here when ``server`` ends, even by kill -9 (which tells no console): a
    console left behind would stay attached to the world with no browser to show it.
    False if ``server`` is not this process's parent, or is gone already."""
    if os.getppid() != server:  # not started by that serve: nothing to tie to it
        return False
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise UsageError(f"cannot end with the server: {os.strerror(ctypes.get_errno())}")
    return os.getppid() == server  # it may have ended before the tie was made
