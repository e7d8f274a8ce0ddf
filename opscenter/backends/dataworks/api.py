"""The seam between the DataWorks backend and an API version: ``Api`` is exactly what a
workspace on the new Data Studio (2024-05-18, api2024.py) and one on the old DataStudio
(2020-05-18, api2020.py) do differently; everything else is written once, over it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks.calls import Calls
from opscenter.backends.dataworks.tasks import TaskMap
from opscenter.domain.clock import Clock
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionResult,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    InstanceInfo,
)


@dataclass
class Site:
    """One workspace as every part of the backend sees it: the calls to it, its zone and
    name (GetProject's, once connected), the clock and who acts."""

    calls: Calls
    zone: ZoneInfo
    clock: Clock
    user: str
    name: str

    @property
    def project_id(self) -> int:
        return self.calls.project_id


@dataclass(frozen=True)
class InstanceQuery:
    """What DataWorks can filter instances by; the rest is filtered by the reader. A
    ``status`` of NOT_RUN (or FROZEN) matches frozen instances too, as the wire word does."""

    bizdate: date | None = None
    owner: str | None = None
    task_name: str | None = None
    kind: InstanceKind | None = None
    backfill_id: int | None = None
    status: Status | None = None
    frozen_only: bool = False
    descending: bool = False


@dataclass(frozen=True)
class ManualWorkflow:
    """A manually triggered workflow: its id (2024's WorkflowId; None in 2020, which calls
    it by name) and its nodes, name -> task id."""

    id: int | None
    name: str
    nodes: dict[str, int]


class Api(Protocol):
    """One API version's operations, in our records."""

    tasks: TaskMap  # the deployed tasks, in the 2024 task shape

    def project_name(self) -> str:
        """GetProject's name for the workspace; raises DataWorksError unanswered."""
        ...

    def task_detail(self, task_id: int) -> dict[str, Any]:
        """A task with its ``Dependencies`` and ``Script``."""
        ...

    def downstream_tasks(self, task: dict[str, Any]) -> list[tuple[bool, dict[str, Any]]]:
        """(cross-cycle?, task) for each task that depends on ``task``."""
        ...

    def instances(self, query: InstanceQuery) -> Iterator[tuple[InstanceInfo, int]]:
        """Every matching instance in cyctime order, with the total DataWorks counted."""
        ...

    def instance(self, instance_id: int) -> InstanceInfo: ...

    def parameters(self, instance_id: int) -> dict[str, str]: ...

    def log_text(self, instance_id: int, attempt: int | None) -> str:
        """One run's whole log; with no run, the log DataWorks gives the instance."""
        ...

    def neighbours(self, instance_id: int, direction: str) -> list[tuple[bool, InstanceInfo]]:
        """(cross-cycle?, instance) one level "up" or "down"."""
        ...

    def check_exist(self, ids: Sequence[int]) -> None:
        """NotFound naming every id that is no instance of the workspace."""
        ...

    def existing(self, ids: Sequence[int]) -> dict[int, InstanceInfo]:
        """Every id's instance, read in as few calls as the version allows; NotFound naming
        every id that is no instance of the workspace, as ``check_exist``."""
        ...

    def send(self, verb: str, ids: Sequence[int]) -> dict[int, str | None]:
        """An instance action (rerun, set success, stop, freeze, unfreeze): id -> None when
        done, else DataWorks' message for it."""
        ...

    def set_recurrence(self, task_id: int, recurrence: str) -> None:
        """Freeze (Pause) or unfreeze (Normal) a task."""
        ...

    def undeploy(self, node: str, task_id: int) -> ActionResult: ...

    def create_backfill(self, request: BackfillRequest) -> ActionResult: ...

    def backfill_ids(self, audited: list[AuditEntry]) -> set[int]:
        """The backfills to list: the ones this console created (``audited``) and any
        others DataWorks can list."""
        ...

    def backfill(self, backfill_id: int) -> BackfillInfo: ...

    # -- emergency operations and runs on demand (spec 6.1, 6.5) ------------------------

    def remove_dependencies(
        self, instance_id: int, upstream_ids: Sequence[int], comment: str, *, preview: bool
    ) -> None:
        """Drop these upstream instances of one instance (sent unless ``preview``); a
        version without the operation refuses, preview or not."""
        ...

    def update_instances(
        self,
        ids: Sequence[int],
        priority: int | None,
        resource_group: str | None,
        comment: str,
        *,
        preview: bool,
    ) -> dict[int, str | None]:
        """Change priority or resource group (sent unless ``preview``): id -> None when
        done (or would be), else DataWorks' message; a version without it refuses."""
        ...

    def test_run(self, task_id: int, bizdate: date, comment: str) -> list[int]:
        """One test instance of the task for ``bizdate``: its id (a list, as DataWorks
        answers)."""
        ...

    def manual_workflow(self, name: str) -> ManualWorkflow:
        """The manually triggered workflow so named; NotFound if there is none."""
        ...

    def run_manual(
        self, workflow: ManualWorkflow, bizdate: date, task_ids: Sequence[int], comment: str
    ) -> list[int]:
        """Run the workflow (only ``task_ids`` of it when given) for ``bizdate``: the new
        instances' ids."""
        ...
