"""Intelligent diagnosis, "why isn't it running?" (spec 8): the rule, written once.

Each backend gathers the facts it can (the local store knows everything; the DataWorks
API does not show who holds a resource group's slots, who froze an instance or when an
automatic rerun is due) into :class:`DiagnosisFacts`, and :func:`diagnose` words the
steps. A fact a backend cannot know is :data:`UNKNOWN`, and the step says so rather
than guessing, so the same facts read the same words over every backend.

The checks run in the order an on-call engineer would: frozen? upstream not successful
(walking up to the deepest blocker and naming it)? waiting for its scheduled time?
waiting for a slot (naming the group and who holds it)? running or failed (with the
last error)? The summary is the first check that fails, else the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import Enum

from opscenter.domain.model import RerunMode, Status
from opscenter.domain.records import Diagnosis, DiagnosisStep, Removal, counted, noun
from opscenter.domain.rules import duration_text
from opscenter.domain.times import show_moment

MAX_WALK = 5000  # ancestors examined when looking for the deepest blocker
SHOWN = 5  # instances named in one step
NOT_VISIBLE = "not visible over the API"


class Unknown(Enum):
    """A fact the backend cannot know (not "none": that is a fact too)."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown.UNKNOWN


@dataclass(frozen=True)
class Upstream:
    """An upstream instance, as seen from the instance that depends on it."""

    id: int
    node: str
    status: Status
    cyctime: datetime  # wall-clock time in the workspace zone
    cross_cycle: bool = False

    def label(self) -> str:
        """``broken #3 (✗ FAILURE, cyctime 11-01 00:30)``"""
        return f"{self.node} #{self.id} ({self.status.label}, cyctime {self.cyctime:%m-%d %H:%M})"


@dataclass(frozen=True)
class RemovedUpstream:
    """An upstream instance whose dependency an operator removed: no longer waited for."""

    id: int
    node: str
    removal: Removal


def removed_by(removal: Removal, zone: tzinfo) -> str:
    """``removed by bob at 11-01 02:10 CST``: the words of a removed dependency, for the
    diagnosis and the DAG alike."""
    return f"removed by {removal.by} at {show_moment(removal.at, zone, '%m-%d %H:%M')}"


@dataclass(frozen=True)
class Holder:
    """An instance holding one of a resource group's slots."""

    id: int
    node: str


@dataclass(frozen=True)
class Freeze:
    """Who froze the instance, and when (naive UTC)."""

    by: str
    at: datetime


@dataclass(frozen=True)
class DiagnosisFacts:
    """What a backend knows about one instance, gathered before any rule is applied.

    Moments are naive UTC; cyctimes are wall-clock in the workspace zone. ``upstream``
    maps the instance and each unfinished ancestor the backend walked to its upstream
    instances (see :func:`walk_upstream`; successful ones may be left out); an unfinished
    ancestor missing from it was not examined and counts as a deepest blocker.
    """

    instance_id: int
    node: str
    status: Status
    cyctime: datetime
    due_at: datetime  # naive UTC: when the instance may start
    now: datetime  # naive UTC: the world's now
    resource_group: str
    upstream: Mapping[int, Sequence[Upstream]] = field(default_factory=dict)
    removed: Sequence[RemovedUpstream] = ()  # its upstream dependencies an operator removed
    dry_run: bool = False
    dry_run_reason: str = ""  # "not a run day", "dry-run node", or "" when not known
    set_success: bool | Unknown = False  # set to success by an operator
    node_frozen: bool | Unknown = False
    frozen_by: Freeze | None | Unknown = None  # None: nobody froze the instance itself
    run_number: int = 0  # attempts started so far
    max_attempts: int = 1  # the first run and its automatic reruns
    rerun_mode: str = RerunMode.ALLOWED.value
    started_at: datetime | None = None  # naive UTC: the current attempt's start
    last_reason: str | None = None  # why the last attempt ended; None: no attempt ran
    retry_at: datetime | None | Unknown = None  # naive UTC: the next automatic rerun
    slots: int | Unknown = UNKNOWN  # the resource group's slots
    slot_holders: Sequence[Holder] | Unknown = UNKNOWN  # in cyctime order
    waiting_since: datetime | Unknown = UNKNOWN  # naive UTC: since when it waits for a slot
    zone: tzinfo = UTC  # the workspace's: moments are told in it, labelled

    def at(self, moment: datetime, fmt: str = "%H:%M") -> str:
        """A stored moment (naive UTC) in the workspace zone, with its label."""
        return show_moment(moment, self.zone, fmt)


def walk_upstream(
    instance_id: int,
    read: Callable[[Sequence[int]], Mapping[int, Sequence[Upstream]]],
    limit: int = MAX_WALK,
) -> dict[int, tuple[Upstream, ...]]:
    """The upstream graph a diagnosis needs, read one level at a time through ``read``
    (instance ids -> their upstream instances): the instance's upstreams, then those of
    every unfinished ancestor, until ``limit`` ancestors are seen."""
    graph = {instance_id: tuple(read([instance_id]).get(instance_id, ()))}
    frontier = [u.id for u in graph[instance_id] if u.status is not Status.SUCCESS]
    seen = set(frontier)
    while frontier and len(seen) < limit:
        answer = read(frontier)
        nxt = []
        for i in frontier:
            graph[i] = tuple(answer.get(i, ()))
            for u in graph[i]:
                if u.status is not Status.SUCCESS and u.id not in seen:
                    seen.add(u.id)
                    nxt.append(u.id)
        frontier = nxt
    return graph


def blockers(facts: DiagnosisFacts) -> tuple[list[Upstream], list[Upstream]]:
    """(direct unfinished upstreams, the deepest ones: unfinished with no unfinished
    upstream, or not examined), each in (cyctime, id) order."""

    def unfinished(i: int) -> list[Upstream]:
        return [u for u in facts.upstream.get(i, ()) if u.status is not Status.SUCCESS]

    direct = {u.id: u for u in unfinished(facts.instance_id)}
    seen, frontier, deepest = dict(direct), list(direct.values()), {}
    while frontier:
        nxt = []
        for item in frontier:
            above = unfinished(item.id)
            if not above:  # nothing unfinished above it, or not examined
                deepest[item.id] = item
            for parent in above:
                if parent.id not in seen:
                    seen[parent.id] = parent
                    nxt.append(parent)
        frontier = nxt
    return sorted(direct.values(), key=_order), sorted(deepest.values(), key=_order)


def _order(u: Upstream) -> tuple[datetime, int]:
    """(cyctime, id): the order a list of instances reads in."""
    return u.cyctime, u.id


def diagnose(facts: DiagnosisFacts) -> Diagnosis:
    """The steps an operator reads, from the facts alone."""
    steps = [
        _frozen(facts),
        _upstream(facts),
        _time(facts),
        _resource(facts),
        _execution(facts),
    ]
    failing = next((s for s in steps if not s.ok), None)
    return Diagnosis(facts.instance_id, (failing or steps[-1]).message, steps)


def _frozen(f: DiagnosisFacts) -> DiagnosisStep:
    if f.status is not Status.FROZEN:
        return DiagnosisStep("frozen", True, "not frozen")
    if isinstance(f.frozen_by, Freeze):
        who = f" by {f.frozen_by.by} at {f.at(f.frozen_by.at, '%m-%d %H:%M')}"
    elif f.frozen_by is None or f.node_frozen is True:  # generated frozen: its node is
        who = " (its node is frozen)"
    else:
        who = f" (who froze it is {NOT_VISIBLE})"
    return DiagnosisStep("frozen", False, f"frozen{who}; it blocks its downstream until unfrozen")


def _upstream(f: DiagnosisFacts) -> DiagnosisStep:
    direct, deepest = blockers(f)
    removed = "".join(
        f"; upstream {r.node} #{r.id} {removed_by(r.removal, f.zone)}" for r in f.removed
    )
    if not direct:
        every = "every remaining" if f.removed else "every"
        return DiagnosisStep("upstream", True, f"{every} upstream instance succeeded{removed}")
    named = deepest or direct
    names = "; ".join(b.label() for b in named[:SHOWN])
    more = f" and {len(named) - SHOWN} more" if len(named) > SHOWN else ""
    return DiagnosisStep(
        "upstream",
        False,
        f"waiting for {counted(len(direct), 'upstream instance')}; "
        f"the deepest {noun(len(named), 'blocker')}: {names}{more}{removed}",
        tuple(b.id for b in named),
    )


def _time(f: DiagnosisFacts) -> DiagnosisStep:
    if f.due_at > f.now:
        return DiagnosisStep(
            "time",
            False,
            f"scheduled for {f.cyctime:%Y-%m-%d %H:%M}, "
            f"in {duration_text(f.due_at - f.now, minutes=True)}",
        )
    return DiagnosisStep("time", True, f"its time {f.cyctime:%m-%d %H:%M} has come")


def _resource(f: DiagnosisFacts) -> DiagnosisStep:
    group = f.resource_group
    if f.status is not Status.WAIT_RESOURCE:
        return DiagnosisStep("resource", True, f"resource group {group}")
    known: list[str] = [f"{f.slots} slots"] if not isinstance(f.slots, Unknown) else []
    if not isinstance(f.waiting_since, Unknown):
        known.append(f"since {f.at(f.waiting_since)}")
    size = f" ({', '.join(known)})" if known else ""
    if isinstance(f.slot_holders, Unknown):
        return DiagnosisStep(
            "resource",
            False,
            f"waiting for a slot in resource group {group}{size}; "
            f"who holds its slots is {NOT_VISIBLE}",
        )
    holders = list(f.slot_holders)
    held = "; ".join(f"{h.node} #{h.id}" for h in holders[:SHOWN]) or "nobody (a slot frees soon)"
    return DiagnosisStep(
        "resource",
        False,
        f"waiting for a slot in resource group {group}{size}; held by: {held}",
        tuple(h.id for h in holders),
    )


def _execution(f: DiagnosisFacts) -> DiagnosisStep:
    if f.status is Status.RUNNING and f.started_at is not None:
        return DiagnosisStep(
            "execution",
            True,
            f"running for {duration_text(f.now - f.started_at, minutes=True)} "
            f"(attempt {f.run_number})",
        )
    if f.status is Status.FAILURE:
        # the attempt's reason carries the process's last words (exit code 1: ERROR: ...)
        detail = "stopped before it ran" if f.last_reason is None else f.last_reason
        return DiagnosisStep(
            "execution", False, f"failed: {detail or 'no reason given'}{_retry(f)}"
        )
    if f.status is Status.SUCCESS:
        if f.dry_run:
            how = "dry-run: succeeded without running"
        elif f.set_success is True:
            how = "set to success by an operator"
        else:  # an operator's set-success not visible over the API reads as a success
            how = "succeeded"
        return DiagnosisStep("execution", True, how)
    if f.dry_run:
        why = f" ({f.dry_run_reason})" if f.dry_run_reason else ""
        return DiagnosisStep(
            "execution", True, f"has not started; a dry run{why}: it will succeed without running"
        )
    return DiagnosisStep("execution", True, "has not started")


def _retry(f: DiagnosisFacts) -> str:
    """When the failure reruns by itself, if it does."""
    if isinstance(f.retry_at, datetime):
        return f"; auto rerun at {f.at(f.retry_at)}"
    if f.retry_at is None or f.rerun_mode == RerunMode.DENIED.value:
        return ""
    left = max(0, f.max_attempts - f.run_number)
    if not left:
        return ""
    return f"; {counted(left, 'auto rerun')} left, at a time {NOT_VISIBLE}"
