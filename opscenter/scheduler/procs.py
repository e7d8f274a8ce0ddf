"""An attempt's process tree: finding all of it, and ending it (SIGTERM, then SIGKILL).

An attempt starts as a process group and session of its own, but what it runs may leave
them (``setsid``) and its parent (a double fork). Every process it starts inherits the
environment the executor gives it, though: its workspace's landing folder, its instance id
and its attempt number. So a tree is found by that tag, by the group and session of its
first process, and by descent from any of those (a process that changed its environment
is still found while its parent lives). Tags and descent are read from /proc (Linux);
elsewhere only the group is seen.

The scheduler is also the child subreaper of its attempts (Linux): their orphans reparent
to it, not to init, so it can tell at once whether an attempt left anything running, and
it reaps the orphans it ends. It never reaps a process that was not a tree's, nor one that a
``subprocess.Popen`` owns: that one's exit code is its owner's to collect.

This is the one place processes are ended: by the executor while the scheduler runs
(:mod:`opscenter.scheduler.processes`), and for attempts a dead scheduler left behind
(:func:`end_attempts`, for recovery and for an action with no scheduler running). A pid
alone is not an identity (pids are reused), so attempts also record their first process's
start time; a dead scheduler's process is taken by its group only if both still match.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
_POLL = 0.02  # seconds between looks at a tree that is ending
_subreaper_lock = threading.Lock()
_subreaper: bool | None = None  # None: not asked yet


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown."""
    process = _read(pid, tags=False)
    return None if process is None or process.zombie else process.start


def is_same_process(pid: int, started: int | None) -> bool:
    current = process_start_time(pid)
    if current is None:
        return False
    return started is None or current == started


@dataclass(frozen=True)
class Tree:
    """How to know an attempt's processes: its ``tag`` (landing folder, instance id, attempt
    number) and its first process, ``leader``, whose group and session are the attempt's
    (the caller vouches it is that process)."""

    tag: tuple[str, int, int] | None
    leader: int | None = None


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux); True if it is one.
    Asked once: it holds for the process's life."""
    global _subreaper
    with _subreaper_lock:
        if _subreaper is None:
            _subreaper = False
            if sys.platform.startswith("linux"):
                with contextlib.suppress(OSError, AttributeError):
                    libc = ctypes.CDLL(None, use_errno=True)
                    _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        return _subreaper


def is_subreaper() -> bool:
    return bool(_subreaper)


def own_children() -> set[int] | None:
    """This process's children, zombies included (None where Linux does not list them)."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
        for task in tasks:
            with open(f"/proc/self/task/{task}/children", "rb") as listing:
                found.update(int(pid) for pid in listing.read().split())
    except (OSError, ValueError):
        return None
    return found


def may_be_of(pid: int, tree: Tree) -> bool:
    """Whether this child of ours may belong to ``tree``, as a scan of every process would
    find it: if it is in the group or session of the tree's first process, or carries its
    tag. (A child of ours descends from no other process of the tree.) A child that runs
    with another attempt's tag, or none yet (another attempt's first process, forked but
    not exec'd yet), is not the tree's; an ended one shows no tag any more, and is the
    tree's if it was in that group or session."""
    process = _read(pid, tags=True)
    if process is None:
        return False
    in_its_group = tree.leader in (process.pgid, process.sid)
    return in_its_group or (tree.tag is not None and process.tag == tree.tag)


def group_alive(pgid: int) -> bool:
    """Whether any process (zombies too) is still in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_members(trees: Sequence[Tree]) -> list[int]:
    """The processes of these trees that still run."""
    found = _scan(_wants_tags(trees))
    return sorted(pid for pid in _members(trees, found) if not found[pid].zombie)


def end_trees(
    trees: Sequence[Tree],
    grace: float = KILL_GRACE,
    *,
    owned: Collection[int] = (),
    escalating: Callable[[], None] | None = None,
    hurry: threading.Event | None = None,
) -> None:
    """End every process of these trees: SIGTERM, then SIGKILL to what still runs ``grace``
    seconds later (at once once ``hurry`` is set; ``escalating`` hears it first). What is
    started meanwhile is signalled too. Orphans this process adopted are reaped, except
    ``owned`` (pids a Popen of ours waits for)."""
    tags = _wants_tags(trees)
    signalled: dict[int, tuple[int, int]] = {}  # pid -> (its start time, the last signal)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + grace
        while True:
            found = _scan(tags)
            members = _members(trees, found)
            live = [found[pid] for pid in members if not found[pid].zombie]
            for process in live:
                if signalled.get(process.pid) != (process.start, signum):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(process.pid, signum)
                    signalled[process.pid] = (process.start, signum)
            _reap(found, members, signalled, owned)
            groups = [] if found else _groups_left(trees)  # nothing found: there is no /proc
            for pgid in groups:
                if signalled.get(-pgid) != (0, signum):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signum)
                    signalled[-pgid] = (0, signum)  # a group, as kill(2) names one
            if not live and not groups:
                return
            if time.monotonic() >= deadline or (signum == signal.SIGTERM and _set(hurry)):
                break
            time.sleep(_POLL)
        if signum == signal.SIGTERM and escalating is not None:
            escalating()


def _groups_left(trees: Sequence[Tree]) -> list[int]:
    """Where processes cannot be listed, the trees' groups that still have a process."""
    return [tree.leader for tree in trees if tree.leader and group_alive(tree.leader)]


def end_attempts(attempts: Sequence[Any], landing: Path | str | None) -> None:
    """End the process trees of attempts no scheduler holds any more (rows with ``pid``,
    ``pid_start``, ``instance_id`` and ``number``): by their tag, and by the recorded pid's
    group and session if that pid is still the same process."""
    root = str(Path(landing).resolve()) if landing else None
    trees = []
    for attempt in attempts:
        same = attempt.pid and is_same_process(attempt.pid, attempt.pid_start)
        tag = (root, attempt.instance_id, attempt.number) if root else None
        if same or tag:
            trees.append(Tree(tag, attempt.pid if same else None))
    if trees:
        end_trees(trees)


# -- reading /proc -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int
    zombie: bool
    tag: tuple[str, int, int] | None


def _wants_tags(trees: Sequence[Tree]) -> bool:
    return any(tree.tag for tree in trees)


def _set(event: threading.Event | None) -> bool:
    return event is not None and event.is_set()


def _scan(tags: bool) -> dict[int, _Process]:
    """Every process this user can see, by pid (empty where there is no /proc)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    found = {}
    for name in names:
        if name.isdigit() and (process := _read(int(name), tags)) is not None:
            found[process.pid] = process
    return found


def _read(pid: int, tags: bool) -> _Process | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its ')'
    fields = text[text.rindex(b")") + 2 :].split()
    zombie = fields[0] in (b"Z", b"X")
    tag = _tag(pid) if tags and not zombie else None
    ppid, pgid, sid, start = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])
    return _Process(pid, ppid, pgid, sid, start, zombie, tag)


def _tag(pid: int) -> tuple[str, int, int] | None:
    """The attempt the process was started for, from its environment."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return tag_of(environ.read())
    except OSError:  # gone, or another user's
        return None


def tag_of(environ: bytes) -> tuple[str, int, int] | None:
    """The attempt tag in a /proc/<pid>/environ, which may be cut short: read while the
    process is being exec'd, its last variable can lack its ``=`` and value."""
    values = environ.split(b"\0")
    fields = dict(v.split(b"=", 1) for v in values if v.startswith(b"OPSCENTER_") and b"=" in v)
    try:
        return (
            os.fsdecode(fields[b"OPSCENTER_LANDING"]),
            int(fields[b"OPSCENTER_INSTANCE_ID"]),
            int(fields[b"OPSCENTER_ATTEMPT"]),
        )
    except (KeyError, ValueError):
        return None


def _members(trees: Sequence[Tree], found: dict[int, _Process]) -> set[int]:
    """The trees' processes among ``found``: their roots and everything descended from them
    (never this process itself, nor through it)."""
    me = os.getpid()
    tags = {tree.tag for tree in trees if tree.tag}
    leaders = {tree.leader for tree in trees if tree.leader}
    todo = [p.pid for p in found.values() if p.tag in tags or p.pgid in leaders or p.sid in leaders]
    children: dict[int, list[int]] = defaultdict(list)
    for process in found.values():
        children[process.ppid].append(process.pid)
    members: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid not in members and pid != me:
            members.add(pid)
            todo += children[pid]
    return members


def _reap(
    found: dict[int, _Process],
    members: set[int],
    signalled: dict[int, tuple[int, int]],
    owned: Collection[int],
) -> None:
    """Collect the exit status of the trees' processes this one adopted and that ended."""
    me = os.getpid()
    for pid in members | signalled.keys():
        process = found.get(pid)
        if process is None or not process.zombie or process.ppid != me or pid in owned:
            continue
        if pid in members or signalled[pid][0] == process.start:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
