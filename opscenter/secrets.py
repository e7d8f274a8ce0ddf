"""The operator's credentials kept out of reach of node code.

A node is the workspace author's code run as the operator's user, and such a process may
read ``/proc/<pid>/environ`` of any other of that user: it shows the environment a process
was started with, whatever Python later removed from ``os.environ``. So a command that
runs nodes (the scheduler, a console running one), holds the emulator's key, or lives for
hours (any console, which over DataWorks holds its credentials) starts itself again
(``execve``, same pid, same arguments) without any operator secret in its environment,
nor on its command line (``/proc/<pid>/cmdline``, which ``ps`` shows to every user). The
few it needs cross the exec through an inherited pipe that the new process reads and
closes before doing anything else, and they then live only here: read credentials
through :func:`environment`, never ``os.environ``. The new process is also marked
non-dumpable, so its memory and ``/proc`` entries are closed to other processes of the
same user; root can read them all the same, which nothing here prevents. Commands that
end in a moment (the verbs) are left as they are: starting again would only slow them.
"""

from __future__ import annotations

import ctypes
import json
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from opscenter.errors import UsageError
from opscenter.scheduler.processes import OPERATOR_SECRETS

HANDOVER = "OPSCENTER_SECRETS_FD"  # the pipe's descriptor, from the exec to the new process
PR_SET_DUMPABLE = 4  # <linux/prctl.h>

_handed: dict[str, str] = {}


@dataclass(frozen=True)
class Kept:
    """What such a command keeps of the operator's secrets: the variables handed over to
    it, and its options whose values are secrets (taken off the command line and handed
    over as the variable each names)."""

    variables: frozenset[str] = frozenset()
    options: Mapping[str, str] = field(default_factory=dict)


def receive() -> None:
    """Take what the process before the exec handed over, and close its pipe at once."""
    number = os.environ.pop(HANDOVER, None)
    if number is None:
        return
    refused = UsageError(f"{HANDOVER} is opscenter's own hand-over of credentials; unset it")
    try:
        if not stat.S_ISFIFO(os.fstat(int(number)).st_mode):  # never wait on a terminal
            raise refused
        with os.fdopen(int(number), "rb") as pipe:
            handed = json.loads(pipe.read())
    except (OSError, ValueError):
        raise refused from None
    if not isinstance(handed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in handed.items()
    ):
        raise refused
    _handed.update(handed)


def environment() -> Mapping[str, str]:
    """The environment as credentials are read from it: ``os.environ`` and, over it, the
    values handed over when this process started itself again without them."""
    return {**os.environ, **_handed}


def shield(kept: Kept) -> None:
    """For such a command, before it opens anything: if its environment or command line
    holds operator secrets, start again without them, handing over only those it keeps;
    once without them, close this process to others of the same user."""
    arguments, given = _without_options(sys.argv[1:], kept.options)
    held = {name: os.environ[name] for name in OPERATOR_SECRETS if name in os.environ}
    if not held and not given:
        _undumpable()
        return
    env = {name: value for name, value in os.environ.items() if name not in OPERATOR_SECRETS}
    handed = {name: value for name, value in held.items() if name in kept.variables} | given
    if handed:
        env[HANDOVER] = str(_pipe_holding(json.dumps(handed).encode()))
    # `-m opscenter`, or the `opscenter` script, with the interpreter's options; its path
    # as argv[0] too, or a bare `python` there would be looked up again on PATH
    how = sys.orig_argv[1 : len(sys.orig_argv) - len(sys.argv) + 1]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *how, *arguments], env)


def _without_options(
    arguments: list[str], options: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """``arguments`` without the ``options`` (``--name VALUE``, ``--name=VALUE``, or an
    abbreviation, as argparse, which has already accepted them, reads them), and the values
    they gave by the variable each option names; the last one given wins, as in argparse."""
    left: list[str] = []
    given: dict[str, str] = {}
    rest = iter(arguments)
    for token in rest:
        if token == "--":  # what follows is positional
            left += [token, *rest]
            break
        name, equals, value = token.partition("=")
        long = name.startswith("--") and len(name) > 2
        option = next((o for o in options if long and o.startswith(name)), None)
        if option is None:
            left.append(token)
        else:
            given[options[option]] = value if equals else next(rest, "")
    return left, given


def _pipe_holding(data: bytes) -> int:
    """The read end (inheritable) of a pipe already holding ``data``, its write end closed:
    no file on disk and nothing in the environment, and gone once read."""
    read, write = os.pipe()
    os.set_blocking(write, False)  # what does not fit is refused, never a hang
    try:
        written = os.write(write, data)
    except BlockingIOError:
        written = 0
    finally:
        os.close(write)
    if written < len(data):
        os.close(read)
        raise UsageError("the credentials in the environment are too long to hand over")
    os.set_inheritable(read, True)
    return read


def _undumpable() -> None:
    """PR_SET_DUMPABLE 0: no core dump, no ptrace, and /proc/<pid>/environ, mem, fd ...
    owned by root. It is reset by the next exec, so the nodes started from here are
    ordinary (and their /proc entries readable to the scheduler, which reads them)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise UsageError(f"cannot close this process to others: {os.strerror(ctypes.get_errno())}")
