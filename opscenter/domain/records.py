"""What a Backend returns: plain records the console and the CLI show as they are.

They carry names and times an operator reads (node names, not only ids) so
that a screen never needs a second query per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Generic, TypeVar

from opscenter.domain.model import InstanceKind, Status, TriggerType
from opscenter.domain.rules import minutes_text


class ActionRefused(Exception):
    """An action the backend will not do; ``reason`` says exactly why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotFound(ActionRefused):
    """What an operator named (an instance, node, backfill, event, baseline or attempt) is
    not there. A refusal still, so every screen that shows a refusal shows this too, but
    its own kind: a script tells a mistyped id from a rule that said no (the CLI exits 4)."""


def noun(number: int, word: str) -> str:
    """``node`` for one, ``nodes`` for any other number (the nouns shown here take an s)."""
    return word if number == 1 else f"{word}s"


def counted(number: int, word: str) -> str:
    """``1 node``, ``36 instances``: the one way every screen writes a count, never
    ``1 nodes`` or ``node(s)``."""
    return f"{number} {noun(number, word)}"


def not_found(kind: str, keys: Sequence[int | str], workspace: str) -> NotFound:
    """``no instance #999999 in workspace shop``, ``no node 'nosuch' in workspace shop``:
    the words of a missing id or name, the same over every backend."""
    shown = ", ".join(f"#{k}" if isinstance(k, int) else repr(k) for k in keys)
    return NotFound(f"no {noun(len(keys), kind)} {shown} in workspace {workspace}")


def no_baseline(name: str, bizdate: date, cycle: int) -> NotFound:
    """A baseline not found for a business date (and cycle), over every backend."""
    return NotFound(
        f"no baseline {name!r} for business date {bizdate} (cycle {cycle}): "
        "is the baseline defined and that date generated?"
    )


def no_attempt(instance_id: int, attempt: int, runs: int) -> NotFound:
    """An attempt number the instance has not reached, over every backend."""
    return NotFound(f"instance #{instance_id} has no attempt {attempt} (it has 1..{runs})")


def with_comment(text: str, comment: str) -> str:
    """An action's audited words with the operator's comment, the same over every backend."""
    return f"{text} (comment: {comment})" if comment else text


def not_deployed(name: str, hint: str = "run 'opscenter deploy PATH'") -> str:
    """The words for a workspace the store does not hold, the same from every command:
    ``hint`` says what to do (or is empty where nothing can be done)."""
    return f"workspace {name} is not deployed in this store" + (f"; {hint}" if hint else "")


@dataclass(frozen=True)
class WorkspaceInfo:
    name: str
    timezone: str
    backend: str  # "local" | "dataworks"
    readonly: bool
    scheduler: str  # who holds the scheduler lease, or "" if none
    speed: float = 1.0  # the world's clock: world seconds per real second (1: real time)
    stopped_at: datetime | None = None  # aware: a simulated world whose scheduler stopped
    owner: str = ""  # who deployed it (DataWorks: the project's owner)
    readonly_why: str = ""  # why it is read-only other than --readonly (a store not writable)


# slots: a 10,000-node list is held by the console, and past about 30 fields an instance
# no longer shares its attribute keys (each NodeInfo would carry a dict of its own)
@dataclass(frozen=True, slots=True)
class NodeInfo:
    id: int
    name: str
    type: str
    owner: str
    description: str
    priority: int
    resource_group: str
    cron: str
    cycle_type: str
    schedule: str  # the cron in words
    start_date: date | None
    end_date: date | None
    recurrence: str
    instance_mode: str
    rerun_mode: str
    rerun_times: int
    rerun_interval: int
    timeout: int | None
    parameters: dict[str, str]
    upstreams: tuple[str, ...]
    downstreams: tuple[str, ...]
    cross_cycle: tuple[tuple[str, str], ...]  # (type, node)
    code: str
    code_file: str
    frozen: bool  # frozen in Operation Center, or run mode Pause
    state: str  # deployed | undeployed
    version: int
    deployed_at: datetime
    trigger: str = TriggerType.SCHEDULER  # or Manual: deployed, never scheduled (spec 6.5)
    workflow: str = ""  # the manual workflow of a Manual node

    @property
    def manual(self) -> bool:
        """Manually triggered: it has no cron and runs only when an operator runs it."""
        return self.trigger == TriggerType.MANUAL


@dataclass(frozen=True)
class NodeFilter:
    text: str = ""
    owner: str = ""
    type: str = ""
    cycle_type: str = ""
    priority: int | None = None
    resource_group: str = ""
    recurrence: str = ""
    include_undeployed: bool = False
    trigger: str = ""  # TriggerType.MANUAL lists the manually triggered nodes
    frozen: bool = False  # only nodes frozen in Operation Center or paused (run mode Pause)
    # the window of a page (``Backend.node_page``; ``list_nodes`` answers every match):
    # nodes ordered by name, after the name ``after`` (before it, descending)
    after: str | None = None
    including: bool = False  # the page starts at ``after`` itself (a window read again)
    descending: bool = False
    limit: int = 100


@dataclass(frozen=True)
class NodeChoices:
    """The values a workspace's nodes (undeployed too) have, for the filters to offer."""

    owners: tuple[str, ...]
    types: tuple[str, ...]
    cycle_types: tuple[str, ...]
    priorities: tuple[int, ...]
    resource_groups: tuple[str, ...]


def node_choices(nodes: Iterable[NodeInfo]) -> NodeChoices:
    """The choices among nodes already read (a backend that lists them whole)."""
    listed = list(nodes)
    return NodeChoices(
        owners=tuple(sorted({n.owner for n in listed})),
        types=tuple(sorted({n.type for n in listed})),
        cycle_types=tuple(sorted({n.cycle_type for n in listed})),
        priorities=tuple(sorted({n.priority for n in listed})),
        resource_groups=tuple(sorted({n.resource_group for n in listed})),
    )


def node_matches(flt: NodeFilter, node: NodeInfo) -> bool:
    """The filter applied to a node already read (a backend that cannot ask for it)."""
    return (
        (not flt.text or flt.text.lower() in node.name.lower())
        and (not flt.owner or node.owner == flt.owner)
        and (not flt.type or node.type == flt.type)
        and (not flt.cycle_type or node.cycle_type == flt.cycle_type)
        and (flt.priority is None or node.priority == flt.priority)
        and (not flt.resource_group or node.resource_group == flt.resource_group)
        and (not flt.recurrence or node.recurrence == flt.recurrence)
        and (not flt.frozen or node.frozen)
        and (not flt.trigger or node.trigger == flt.trigger)
        and (flt.include_undeployed or node.state == "deployed")
    )


def node_page(flt: NodeFilter, nodes: Iterable[NodeInfo]) -> Page[NodeInfo, str]:
    """The page ``flt`` asks for, cut from nodes already read and filtered (any order)."""
    ordered = sorted(nodes, key=lambda n: n.name, reverse=flt.descending)
    total = len(ordered)
    if flt.after is not None:
        after = flt.after

        def past(name: str) -> bool:
            if flt.including and name == after:
                return True
            return name < after if flt.descending else name > after

        ordered = [n for n in ordered if past(n.name)]
    items = ordered[: max(0, flt.limit)]
    more = len(ordered) > len(items)
    return Page(items, total, items[-1].name if more and items else None)


@dataclass(frozen=True)
class InstanceInfo:
    id: int
    node_id: int
    node: str
    node_type: str
    kind: InstanceKind
    backfill_id: int | None
    bizdate: date
    cyctime: datetime
    cycle: int
    status: Status
    dry_run: bool
    dry_run_reason: str
    run_number: int
    max_attempts: int
    priority: int
    resource_group: str
    owner: str
    set_success: bool
    started_at: datetime | None  # naive UTC
    finished_at: datetime | None  # naive UTC
    retry_at: datetime | None  # naive UTC
    average: float | None = None  # the node's mean duration (seconds) over its last 10 successes

    @property
    def duration(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def run_time(self, now_utc: datetime) -> float | None:
        """Seconds it ran, or has been running by ``now_utc`` (naive UTC): what the CLI and
        the console both show, and judge SLOW, for a running instance too."""
        if self.started_at is None:
            return None
        end = self.finished_at or (now_utc if self.status is Status.RUNNING else None)
        return (end - self.started_at).total_seconds() if end else None

    @property
    def status_label(self) -> str:
        if self.dry_run and self.status is Status.SUCCESS:
            return "↷ DRY-RUN"
        return self.status.label

    @property
    def past_automatic(self) -> bool:
        """Run more times than its node's automatic attempts (the first run and its auto
        reruns): only an operator's rerun takes an instance there."""
        return self.run_number > self.max_attempts

    @property
    def attempt_cell(self) -> str:
        """The ATT column: ``2/3`` (run 2 of the 3 automatic attempts), ``4 (3 auto)`` once
        an operator's rerun took it past them (never ``4/3``), ``-`` before its first run."""
        if self.run_number == 0:
            return "-"
        if self.past_automatic:
            return f"{self.run_number} ({self.max_attempts} auto)"
        return f"{self.run_number}/{self.max_attempts}"

    @property
    def attempt_words(self) -> str:
        """``attempt 2 of 3``; ``attempt 4 (past the 3 automatic: an operator reran it)``."""
        if self.run_number == 0 and self.status.finished:
            return "no attempt"  # a virtual or dry-run node, or set to success unrun
        if self.run_number == 0:
            return f"not run yet (up to {counted(self.max_attempts, 'automatic attempt')})"
        if self.past_automatic:
            return (
                f"attempt {self.run_number} (past the {self.max_attempts} automatic: "
                "an operator reran it)"
            )
        return f"attempt {self.run_number} of {self.max_attempts}"


# Under a table with a run past its automatic attempts: what its ATT cell means.
ATTEMPT_NOTE = "ATT 'n (m auto)': run n, past the m automatic attempts: an operator reran it"


@dataclass(frozen=True)
class InstanceFilter:
    """Filters, order and a keyset window: lists never load every row."""

    bizdate: date | None = None
    statuses: tuple[Status, ...] = ()
    node: str = ""  # exact node name
    owner: str = ""
    kind: InstanceKind | None = None
    backfill_id: int | None = None
    text: str = ""  # substring of the node name
    descending: bool = False  # order by (cyctime, id)
    after: tuple[datetime, int] | None = None  # keyset: the last row of the previous page
    limit: int = 100


Item = TypeVar("Item")
Key = TypeVar("Key")


@dataclass(frozen=True)
class Page(Generic[Item, Key]):
    """One page of a listing and the key that fetches the next: an instance listing's key
    is its (cyctime, id) keyset (``InstanceFilter.after``), the audit list's an entry id."""

    items: list[Item]
    total: int  # rows matching the filter
    next_after: Key | None  # None: this is the last page


@dataclass(frozen=True)
class AttemptInfo:
    instance_id: int
    number: int
    status: Status
    triggered_by: str
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    reason: str
    log_path: str
    pid: int | None
    host: str = ""  # where it ran (its log is a file there); "" where not known


@dataclass(frozen=True)
class LogPage:
    instance_id: int
    attempt: int
    text: str
    offset: int
    next_offset: int
    size: int  # bytes in the log now

    @property
    def at_end(self) -> bool:
        return self.next_offset >= self.size


@dataclass(frozen=True)
class Removal:
    """An upstream dependency an operator removed from an instance (spec 6.1, emergency)."""

    by: str
    at: datetime  # naive UTC
    comment: str = ""


@dataclass(frozen=True)
class Relative:
    """An upstream or downstream instance, with its level (1 = direct)."""

    level: int
    instance: InstanceInfo
    via: int  # the instance id it hangs from (for drawing a tree)
    cross_cycle: bool
    removed: Removal | None = None  # the edge was removed: drawn dashed, no longer waited for


@dataclass(frozen=True)
class DiagnosisStep:
    check: str  # frozen | upstream | time | resource | execution
    ok: bool
    message: str
    instance_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    instance_id: int
    summary: str
    steps: list[DiagnosisStep]


@dataclass(frozen=True)
class StatusCounts:
    bizdate: date
    counts: dict[Status, int]
    dry_run: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class NodeErrors:
    node: str
    owner: str
    failures: int  # failed attempts in the window


@dataclass(frozen=True)
class Dashboard:
    """The O&M overview (spec 8) for one business date."""

    counts: StatusCounts
    needs_action: list[InstanceInfo]  # failed, with no auto rerun pending; newest first
    baselines: list[BaselineStatus]
    top_errors: list[NodeErrors]  # top 10 nodes by failed attempts, last 30 days
    slowest: list[InstanceInfo]  # top 10 instances of the date by run time
    succeeded_per_hour: list[int]  # today's successes by hour of the workspace day (24)
    succeeded_per_hour_before: list[int]  # the day before, for comparison
    now: datetime  # aware
    failure_reasons: dict[int, str] = field(default_factory=dict)  # needs_action id -> why


@dataclass(frozen=True)
class BackfillRequest:
    node: str
    start: date
    end: date
    downstream: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    parallel: int = 1
    descending: bool = False
    window: tuple[str, str] | None = None  # ("08:00", "10:00"), for hourly/minute nodes
    name: str = ""


@dataclass(frozen=True)
class BackfillRunInfo:
    bizdate: date
    position: int
    status: str
    counts: dict[Status, int]
    started_at: datetime | None = None  # naive UTC
    finished_at: datetime | None = None  # naive UTC


@dataclass(frozen=True)
class BackfillInfo:
    id: int
    name: str
    created_by: str
    created_at: datetime
    nodes: tuple[str, ...]
    parallel: int
    descending: bool
    window: tuple[str, str] | None
    status: str
    runs: list[BackfillRunInfo]

    @property
    def dates_done(self) -> int:
        return sum(run.status == "SUCCESS" for run in self.runs)


@dataclass(frozen=True)
class AuditEntry:
    """Lists order audit entries by id (insertion), never by a time that can go backwards."""

    id: int
    at: datetime  # naive UTC: the world's time of the act (simulated in a demo)
    user: str
    action: str
    targets: list
    outcome: str
    detail: str
    source: str
    wall_at: datetime | None = None  # naive UTC: the real time of the act


@dataclass(frozen=True)
class KeyPathStep:
    instance: InstanceInfo
    est_start: datetime  # naive UTC
    est_finish: datetime  # naive UTC


@dataclass(frozen=True)
class Blocker:
    """An instance a baseline waits on for ever unless an operator acts."""

    id: int
    node: str
    status: Status

    def describe(self) -> str:
        """``#66 ods_products_snapshot ✗ FAILURE``"""
        return f"#{self.id} {self.node} {self.status.label}"


@dataclass(frozen=True)
class BaselineInfo:
    """A baseline as deployed, whatever business dates it has been predicted for."""

    id: int
    name: str
    owner: str
    priority: int
    type: str  # DAILY | HOURLY
    margin: int  # minutes: alert time = committed time - margin
    enabled: bool
    nodes: tuple[str, ...]  # its output nodes: it protects them and every ancestor
    committed: tuple[str, ...] = ()  # hh:mm per cycle in the workspace zone (24..47: next day)


@dataclass(frozen=True)
class BaselineStatus:
    """One baseline for one business date (and cycle): the prediction against the promise."""

    name: str
    owner: str
    priority: int
    type: str
    bizdate: date
    cycle: int
    status: str  # SAFE | WARNING | OVER | ERROR
    finished: bool
    committed_at: datetime  # naive UTC
    alert_at: datetime  # naive UTC
    predicted_finish: datetime | None  # naive UTC; the actual finish once finished
    key_instance: InstanceInfo | None
    protected: int
    nodes: tuple[str, ...]
    # blocked: instances it waits on that cannot finish without an operator (failed with no
    # automatic rerun left, or frozen); its finish is then unknown, and predicted if rerun now
    blocked_by: tuple[Blocker, ...] = ()
    if_rerun_now: datetime | None = None  # naive UTC

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_by)

    @property
    def slack_minutes(self) -> int | None:
        """Minutes to spare before the committed time (negative: late), counted between the
        minutes as shown: 08:00:30 against 09:00 is 60m, as the two clocks beside it read
        (floored, it said 59m). Within the committed minute it is 0; the status word says
        whether that is late."""
        if self.predicted_finish is None:
            return None
        committed = self.committed_at.replace(second=0, microsecond=0)
        predicted = self.predicted_finish.replace(second=0, microsecond=0)
        return int((committed - predicted) / timedelta(minutes=1))


NO_BASELINE = "No baseline protects these instances"  # an impact found for no baseline


@dataclass(frozen=True)
class BaselineImpact:
    """A baseline as predicted now, and as predicted once an action is done (spec console.md:
    the confirm's impact line comes from re-running the prediction with the action applied)."""

    before: BaselineStatus
    after: BaselineStatus

    def describe(self, zone: tzinfo) -> str:
        """``Baseline exec_dashboard: predicted 09:18 → 09:41 (OVER by 41m)``,
        ``Baseline finance_close: still predicted 09:30 (SAFE, 60m to spare)``, or for a
        blocked baseline ``Baseline exec_dashboard: blocked → predicted 07:30 (SAFE, …)``."""
        b, a = self.before, self.after
        name = b.name + (f" cycle {b.cycle}" if b.type == "HOURLY" else "")
        if a.blocked:
            was = "still" if b.blocked else f"{' '.join(_when(b, zone)).strip()} →"
            return f"Baseline {name}: {was} {blocked_text(a, zone)}"
        (was, before), (then, after) = _when(b, zone), _when(a, zone)
        if b.blocked:
            moves = f"blocked → {then} {after}".strip()
        elif (was, before) == (then, after):  # the same to the minute
            moves = f"still {was} {before}".replace("  ", " ")
        else:
            word = f"{then} " if then and then != was else ""
            moves = f"{was} {before} → {word}{after}".strip()
        return f"Baseline {name}: {moves} ({_verdict(a)})"


def blocked_text(b: BaselineStatus, zone: tzinfo) -> str:
    """``blocked by #66 ods_products_snapshot ✗ FAILURE · if rerun now 07:30 (WARNING)``:
    what holds a blocked baseline, and when it would finish if an operator acted now."""
    shown = ", ".join(x.describe() for x in b.blocked_by[:2])
    if len(b.blocked_by) > 2:
        shown += f" and {len(b.blocked_by) - 2} more"
    frozen = all(x.status is Status.FROZEN for x in b.blocked_by)
    act = "if unfrozen now" if frozen else "if rerun now"
    when = ""
    if b.if_rerun_now is not None:
        when = f" · {act} {_wall(b.if_rerun_now, b.committed_at, zone)}"
    return f"blocked by {shown}{when} ({b.status})"


def _wall(moment: datetime, committed_at: datetime, zone: tzinfo) -> str:
    """A moment's wall time, with the day when it is not the committed day."""
    wall = moment.replace(tzinfo=UTC).astimezone(zone)
    committed = committed_at.replace(tzinfo=UTC).astimezone(zone)
    return f"{wall:%H:%M}" if wall.date() == committed.date() else f"{wall:%m-%d %H:%M}"


def _when(b: BaselineStatus, zone: tzinfo) -> tuple[str, str]:
    """("predicted" | "finished", wall time, with the day when not the committed day)."""
    if b.predicted_finish is None:
        return "", "no prediction"
    return "finished" if b.finished else "predicted", _wall(
        b.predicted_finish, b.committed_at, zone
    )


def _verdict(b: BaselineStatus) -> str:
    minutes = b.slack_minutes
    if minutes is None:
        return f"{b.status}: its output instances are frozen or missing"
    if minutes < 0:  # OVER only once the committed time has passed (spec 7.3)
        late = f"OVER by {minutes_text(-minutes)}"
        return late if b.status == "OVER" else f"{b.status}, will be {late}"
    return f"{b.status}, {minutes_text(minutes)} to spare"


@dataclass(frozen=True)
class BaselineDetail:
    status: BaselineStatus
    key_path: list[KeyPathStep]
    events: list[EventInfo]


@dataclass(frozen=True)
class EventInfo:
    id: int
    baseline: str
    bizdate: date
    instance_id: int
    node: str
    kind: str  # ERROR | SLOW
    status: str  # NEW | FIXING | RECOVER | IGNORE
    message: str
    created_at: datetime
    updated_at: datetime
    updated_by: str
    cycle: int = 1  # of the baseline instance it endangers (hourly baselines have 24)


@dataclass(frozen=True)
class AlertInfo:
    id: int
    rule: str
    kind: str
    target: str
    message: str
    first_at: datetime
    last_sent_at: datetime | None
    sent_count: int
    last_error: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class ActionResult:
    action: str
    affected: list[int]
    message: str
    extra: dict = field(default_factory=dict)
