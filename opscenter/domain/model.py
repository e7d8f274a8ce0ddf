"""The Operation Center model in DataWorks terms: nodes, instances, baselines.

Plain frozen dataclasses and string enums whose values are DataWorks' own
strings (FlowSpec / OpenAPI), so YAML, the store and the API mapping speak one
vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class NodeType(StrEnum):
    SQL = "sql"
    SHELL = "shell"
    PYTHON = "python"
    VIRTUAL = "virtual"
    QUALITY = "quality"


class Recurrence(StrEnum):
    """Run mode of a node (FlowSpec ``recurrence``)."""

    NORMAL = "Normal"
    SKIP = "Skip"  # dry-run: instances succeed without running
    PAUSE = "Pause"  # frozen: instances are generated FROZEN and block descendants


class InstanceMode(StrEnum):
    T_PLUS_1 = "T+1"
    IMMEDIATELY = "Immediately"


class RerunMode(StrEnum):
    ALLOWED = "Allowed"
    FAILURE_ALLOWED = "FailureAllowed"
    DENIED = "Denied"


class TriggerType(StrEnum):
    """How a node's instances come about (FlowSpec ``trigger.type``)."""

    SCHEDULER = "Scheduler"  # auto triggered: generated from the cron
    MANUAL = "Manual"  # never scheduled: an operator runs it (spec 6.5)


class DependencyType(StrEnum):
    NORMAL = "Normal"
    CROSS_CYCLE_SELF = "CrossCycleDependsOnSelf"
    CROSS_CYCLE_CHILDREN = "CrossCycleDependsOnChildren"
    CROSS_CYCLE_OTHER = "CrossCycleDependsOnOtherNode"


class CycleType(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    @property
    def many_per_day(self) -> bool:
        return self in (CycleType.MINUTE, CycleType.HOUR)


MANUAL_CYCLE = "manual"  # the cycle a manually triggered node is listed with: it has no cron


class Status(StrEnum):
    """Instance status, legacy API spelling (spec 3.1)."""

    NOT_RUN = "NOT_RUN"
    WAIT_TIME = "WAIT_TIME"
    WAIT_RESOURCE = "WAIT_RESOURCE"
    RUNNING = "RUNNING"
    FAILURE = "FAILURE"
    SUCCESS = "SUCCESS"
    FROZEN = "FROZEN"

    @property
    def glyph(self) -> str:
        return _GLYPHS[self][0]

    @property
    def ascii_glyph(self) -> str:
        return _GLYPHS[self][1]

    @property
    def label(self) -> str:
        """Glyph and word: status stays readable without colour."""
        return f"{self.glyph} {self.value}"

    @property
    def finished(self) -> bool:
        return self in (Status.SUCCESS, Status.FAILURE)


_GLYPHS: dict[Status, tuple[str, str]] = {
    Status.SUCCESS: ("✓", "+"),
    Status.RUNNING: ("●", "*"),
    Status.WAIT_TIME: ("…", "."),
    Status.WAIT_RESOURCE: ("⧗", "~"),
    Status.NOT_RUN: ("○", "o"),
    Status.FAILURE: ("✗", "x"),
    Status.FROZEN: ("❄", "#"),
}
DRY_RUN_GLYPH = ("↷", "-")


class InstanceKind(StrEnum):
    PERIODIC = "periodic"
    BACKFILL = "backfill"
    MANUAL = "manual"  # a run of a manually triggered node or workflow (spec 6.5)
    TEST = "test"  # a test run of an auto-triggered node: no upstream wait, no downstream


@dataclass(frozen=True)
class Dependency:
    """One entry of a node's ``depends``: an upstream node and how it is awaited.

    ``node`` is empty for CrossCycleDependsOnSelf / CrossCycleDependsOnChildren,
    which name no other node.
    """

    type: DependencyType
    node: str = ""


@dataclass(frozen=True)
class ResourceGroup:
    name: str
    slots: int


@dataclass(frozen=True)
class Node:
    """A node as deployed (one version of it): auto triggered, or manually triggered."""

    name: str
    type: NodeType
    cron: str
    owner: str = ""
    description: str = ""
    priority: int = 1
    resource_group: str = "default"
    start_date: date | None = None
    end_date: date | None = None
    recurrence: Recurrence = Recurrence.NORMAL
    instance_mode: InstanceMode = InstanceMode.T_PLUS_1
    rerun_mode: RerunMode = RerunMode.ALLOWED
    rerun_times: int = 0
    rerun_interval: int = 120  # seconds
    timeout: int | None = None  # minutes
    parameters: dict[str, str] = field(default_factory=dict)
    depends: tuple[Dependency, ...] = ()
    code: str = ""
    code_file: str = ""  # path relative to the workspace folder, for display only
    trigger: TriggerType = TriggerType.SCHEDULER  # a Manual node has no cron ("")
    workflow: str = ""  # the manual workflow a Manual node belongs to

    @property
    def upstreams(self) -> tuple[str, ...]:
        """Same-cycle upstream node names."""
        return tuple(d.node for d in self.depends if d.type is DependencyType.NORMAL)


@dataclass(frozen=True)
class Baseline:
    name: str
    owner: str
    priority: int
    type: str  # "DAILY" or "HOURLY"
    committed_times: tuple[str, ...]  # "hh:mm", hh 0..47; one per cycle
    margin: int  # minutes: alert time = committed time - margin
    nodes: tuple[str, ...]


# Spec 7.4: an event's status, and where an operator may move it from there.
EVENT_MOVES = {"NEW": ("FIXING", "IGNORE"), "FIXING": ("RECOVER", "IGNORE")}


class AlertTrigger(StrEnum):
    """Custom alert rule triggers (spec 7.5, 2024 API names) and baseline statuses."""

    ERROR = "Error"
    UNFINISHED = "UnFinished"  # not finished by hh:mm (hh 0..47) of the schedule day
    TIMEOUT = "Timeout"  # running longer than N minutes
    EXHAUSTED_ERROR = "ExhaustedError"  # still failing after its auto reruns
    BASELINE_WARNING = "BaselineWarning"
    BASELINE_OVER = "BaselineOver"

    @property
    def on_baselines(self) -> bool:
        return self in (AlertTrigger.BASELINE_WARNING, AlertTrigger.BASELINE_OVER)


@dataclass(frozen=True)
class AlertRule:
    name: str
    trigger: AlertTrigger
    nodes: tuple[str, ...] = ()
    baselines: tuple[str, ...] = ()
    at: str = ""  # UnFinished: "hh:mm"
    minutes: int = 0  # Timeout
    interval: int = 1800  # seconds between re-sends while the condition holds
    max_sends: int = 3
    quiet_hours: tuple[str, str] | None = None  # ("23:00", "07:00"): nothing is sent then
    webhook: str = ""


@dataclass(frozen=True)
class Workspace:
    name: str
    timezone: str
    nodes: tuple[Node, ...]
    resource_groups: tuple[ResourceGroup, ...] = ()
    baselines: tuple[Baseline, ...] = ()
    alerts: tuple[AlertRule, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    warehouse: str = "warehouse.duckdb"
    landing: str = "landing"

    @property
    def root_name(self) -> str:
        return root_node_name(self.name)


def root_node_name(workspace: str) -> str:
    """DataWorks' virtual root node: every node without another upstream hangs off it."""
    return f"{workspace}_root"


@dataclass(frozen=True)
class Slot:
    """An instance-to-be: one fire time of one node on one schedule date."""

    node: str
    cyctime: datetime  # naive wall-clock time in the workspace timezone
    bizdate: date
    cycle: int  # 1-based position within the day (PeriodNumber)
