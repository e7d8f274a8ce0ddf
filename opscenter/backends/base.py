"""The Backend protocol: the one interface the console and the CLI use.

The local backend implements it over the store and the embedded engine; the
DataWorks backend over the OpenAPI. Every operator action is a method here,
so it can be scripted, tested without a screen, refused for a reason, and
audited the same way whichever world is behind it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Protocol

from opscenter.domain.records import (
    ActionResult,
    AlertInfo,
    AttemptInfo,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    BaselineDetail,
    BaselineImpact,
    BaselineInfo,
    BaselineStatus,
    Dashboard,
    Diagnosis,
    EventInfo,
    InstanceFilter,
    InstanceInfo,
    LogPage,
    NodeChoices,
    NodeFilter,
    NodeInfo,
    Page,
    Relative,
    StatusCounts,
    WorkspaceInfo,
)


class Backend(Protocol):
    # -- reading ---------------------------------------------------------------
    def workspace(self) -> WorkspaceInfo: ...

    def now(self) -> datetime:
        """The backend's clock (aware): simulated in the demo, real elsewhere."""
        ...

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]: ...

    def node_page(self, flt: NodeFilter) -> Page[NodeInfo, str]:
        """One window of the filtered nodes by name (``flt.after``, ``flt.limit``) and how
        many match: a list of 10,000 nodes costs a page, not the whole list."""
        ...

    def node_choices(self) -> NodeChoices:
        """The owners, types, cycles, priorities and groups the workspace's nodes have."""
        ...

    def get_node(self, name: str) -> NodeInfo: ...

    def get_node_by_id(self, node_id: int) -> NodeInfo:
        """A node by its id (DataWorks' key for a node), undeployed ones too, as
        ``get_node``; NotFound for an id that names no node of this workspace."""
        ...

    def list_instances(self, flt: InstanceFilter) -> Page: ...

    def get_instance(self, instance_id: int) -> InstanceInfo: ...

    def parameters(self, instance_id: int) -> dict[str, str]:
        """The scheduling parameters as the instance runs with them (name -> value)."""
        ...

    def attempts(self, instance_id: int) -> list[AttemptInfo]: ...

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage: ...

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]: ...

    def find_error(
        self,
        instance_id: int,
        attempt: int | None = None,
        offset: int = 0,
        *,
        forward: bool = True,
        cause: bool = False,
    ) -> int | None:
        """Where the first error line (``domain.runlog``) at or after byte ``offset`` of the
        log ``read_log`` gives starts, or the last one starting before it when not
        ``forward``; ``cause`` passes over the closing summary. None when there is none. So
        the console's ``e`` never reads a log up to its first error page by page."""
        ...

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]: ...

    def diagnose(self, instance_id: int) -> Diagnosis: ...

    def status_counts(self, bizdate: date) -> StatusCounts: ...

    def dashboard(self, bizdate: date) -> Dashboard: ...

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]: ...

    def get_backfill(self, backfill_id: int) -> BackfillInfo: ...

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]: ...

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]: ...

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail: ...

    def list_baseline_definitions(self) -> list[BaselineInfo]:
        """Every baseline as deployed, by id, enabled or not and whether or not any business
        date has been predicted yet (``list_baselines`` has only a date's predictions)."""
        ...

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]: ...

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]: ...

    # -- acting (each audited; refusals raise ActionRefused) --------------------
    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult: ...

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        """What ``rerun`` would reset (``affected``), or ActionRefused; changes nothing."""
        ...

    def baseline_impact(
        self, action: str, instance_ids: Sequence[int], downstream: bool = False
    ) -> list[BaselineImpact] | None:
        """Each baseline these instances feed, predicted now and with ``action`` (rerun,
        set_success, stop, freeze, unfreeze) applied; None where it cannot be predicted."""
        ...

    def set_success(self, instance_ids: Sequence[int]) -> ActionResult: ...

    def stop(self, instance_ids: Sequence[int]) -> ActionResult: ...

    def freeze(self, instance_ids: Sequence[int]) -> ActionResult: ...

    def unfreeze(self, instance_ids: Sequence[int]) -> ActionResult: ...

    def freeze_node(self, node: str) -> ActionResult: ...

    def unfreeze_node(self, node: str) -> ActionResult: ...

    def preview_backfill(self, request: BackfillRequest) -> ActionResult: ...

    def backfill(self, request: BackfillRequest) -> ActionResult: ...

    def undeploy(self, node: str) -> ActionResult: ...

    # -- emergency operations and runs on demand (spec 6.1, 6.5) -----------------------
    # Each is audited with ``comment``; with ``preview`` it changes nothing, is not audited,
    # and answers what it would do (or raises the refusal it would raise).

    def remove_upstream(
        self,
        instance_id: int,
        upstream_ids: Sequence[int] | None = None,
        comment: str = "",
        *,
        preview: bool = False,
    ) -> ActionResult:
        """Emergency: drop upstream dependencies of this one instance (default: every
        upstream instance not SUCCESS), from NOT_RUN, WAIT_TIME, WAIT_RESOURCE or FAILURE.
        The node and other instances are untouched; the removal is kept with who, when and
        why, and the instance runs when its remaining conditions hold. ``affected``: the
        upstream instance ids removed."""
        ...

    def update_instances(
        self,
        instance_ids: Sequence[int],
        *,
        priority: int | None = None,
        resource_group: str | None = None,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        """Emergency: change the priority (1, 3, 5, 7, 8) or resource group of instances not
        finished; dispatch order and slots follow at once."""
        ...

    def test_run(
        self, node: str, bizdate: date, *, comment: str = "", preview: bool = False
    ) -> ActionResult:
        """One test instance (kind TEST) of an auto-triggered node for ``bizdate``: that
        date's parameters, no upstream waited for, no downstream, no custom alert rules.
        ``affected``: the new instance's id."""
        ...

    def run_manual(
        self,
        workflow: str,
        bizdate: date,
        nodes: Sequence[str] = (),
        *,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        """Run a manually triggered workflow for ``bizdate``: every node of it in dependency
        order, or only ``nodes`` of it (with the dependencies among them). Instances are of
        kind MANUAL. ``affected``: the new instance ids."""
        ...

    def handle_event(self, event_id: int, status: str) -> ActionResult:
        """Event lifecycle: NEW -> FIXING -> RECOVER, or IGNORE."""
        ...

    def record_refusal(self, action: str, targets: Sequence[int | str], reason: str) -> None:
        """Audit an action the console refused on its own, before any action method was
        called (read-only, nothing under the cursor, a move an event cannot make): outcome
        "refused" with ``reason`` as the operator read it, this backend's user, the world's
        time. A refusal an action method raised is audited there, not again here."""
        ...
