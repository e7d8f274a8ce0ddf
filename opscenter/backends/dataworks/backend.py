"""The Backend protocol over the DataWorks OpenAPI, for a workspace of either API version.

This class only answers the protocol: each method hands its work to the module whose job
it is (reads, sla, dashboard, actions, backfills, audit), and those reach DataWorks
through one ``Api`` object, the one place the 2024-05-18 and 2020-05-18 APIs differ
(api2024.py, api2020.py). A new DataWorks operation goes into both of those, behind
``api.Api``; what the backend does with it goes into the module of its job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks import backfills
from opscenter.backends.dataworks.actions import Actions
from opscenter.backends.dataworks.api import Api, Site
from opscenter.backends.dataworks.api2020 import Api2020
from opscenter.backends.dataworks.api2024 import Api2024
from opscenter.backends.dataworks.audit import AuditFile
from opscenter.backends.dataworks.calls import V2020, V2024, Calls, unavailable
from opscenter.backends.dataworks.client import ApiError, DataWorksClient, DataWorksError
from opscenter.backends.dataworks.dashboard import dashboard
from opscenter.backends.dataworks.reads import Reads
from opscenter.backends.dataworks.sla import Sla
from opscenter.domain.clock import Clock
from opscenter.domain.records import (
    ActionRefused,
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
from opscenter.store.db import state_home

__all__ = ["V2020", "V2024", "DataWorksBackend"]

API_VERSIONS: dict[str, type[Api2024] | type[Api2020]] = {V2024: Api2024, V2020: Api2020}


class DataWorksBackend:
    """One DataWorks workspace (``project_id``) behind the Backend protocol, on the new Data
    Studio (``api_version`` 2024-05-18) or the old DataStudio (2020-05-18).

    The OpenAPI carries no time zone, so the workspace's zone is given (DataWorks
    regions in China run on UTC+8, the default).
    """

    def __init__(
        self,
        client: DataWorksClient,
        project_id: int,
        *,
        clock: Clock,
        user: str,
        readonly: bool = False,
        audit_path: Path | None = None,
        timezone: str = "Asia/Shanghai",
        name: str = "",
        api_version: str = V2024,
    ) -> None:
        self.client = client
        self.project_id = project_id
        self.clock = clock
        self.user = user
        self.audit_path = audit_path or state_home() / f"dataworks-{project_id}" / "audit.jsonl"
        self.zone = ZoneInfo(timezone)
        self._timezone = timezone
        self.site = Site(
            Calls(client, project_id), self.zone, clock, user, name or f"dataworks-{project_id}"
        )
        self.api: Api = API_VERSIONS[api_version](self.site)
        self._audit = AuditFile(self.audit_path, clock, user)
        self._reads = Reads(self.site, self.api)
        self._sla = Sla(self.site, self.api)
        self._actions = Actions(self.api, self._reads, self._audit, readonly)

    @property
    def readonly(self) -> bool:
        """Every action refused (and audited so); the console may turn it on once open."""
        return self._actions.readonly

    @readonly.setter
    def readonly(self, value: bool) -> None:
        self._actions.readonly = value

    def connect(self) -> None:
        """Name the workspace as DataWorks does (GetProject), and find out early when the
        endpoint, the credentials or the id are wrong. A RAM user without permission to
        read the project keeps the id-based name."""
        try:
            self.site.name = self.api.project_name() or self.site.name
        except DataWorksError as error:
            if not (isinstance(error, ApiError) and error.code.startswith("Forbidden")):
                raise ActionRefused(f"DataWorks GetProject failed: {error}") from None

    # -- reading --------------------------------------------------------------------------

    def workspace(self) -> WorkspaceInfo:
        return WorkspaceInfo(self.site.name, self._timezone, "dataworks", self.readonly, "")

    def now(self) -> datetime:
        return self.clock.now()

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        return self._reads.list_nodes(flt)

    def node_page(self, flt: NodeFilter) -> Page[NodeInfo, str]:
        return self._reads.node_page(flt)

    def node_choices(self) -> NodeChoices:
        return self._reads.node_choices()

    def get_node(self, name: str) -> NodeInfo:
        return self._reads.get_node(name)

    def get_node_by_id(self, node_id: int) -> NodeInfo:
        return self._reads.get_node_by_id(node_id)

    def list_instances(self, flt: InstanceFilter) -> Page:
        return self._reads.list_instances(flt)

    def get_instance(self, instance_id: int) -> InstanceInfo:
        return self.api.instance(instance_id)

    def parameters(self, instance_id: int) -> dict[str, str]:
        return self.api.parameters(instance_id)

    def attempts(self, instance_id: int) -> list[AttemptInfo]:
        return self._reads.attempts(instance_id)

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage:
        return self._reads.read_log(instance_id, attempt, offset, limit)

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]:
        return self._reads.follow_log(instance_id, attempt, poll)

    def find_error(
        self,
        instance_id: int,
        attempt: int | None = None,
        offset: int = 0,
        *,
        forward: bool = True,
        cause: bool = False,
    ) -> int | None:
        return self._reads.find_error(instance_id, attempt, offset, forward, cause)

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]:
        return self._reads.relatives(instance_id, direction, levels)

    def diagnose(self, instance_id: int) -> Diagnosis:
        return self._reads.diagnose(instance_id)

    def status_counts(self, bizdate: date) -> StatusCounts:
        return self._reads.status_counts(bizdate)

    def dashboard(self, bizdate: date) -> Dashboard:
        return dashboard(self.site, self._reads, self._sla, bizdate)

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]:
        return backfills.listed(self.api, self.audit_log(limit=10_000), limit)

    def get_backfill(self, backfill_id: int) -> BackfillInfo:
        return self.api.backfill(backfill_id)

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        return self._audit.entries(limit, before_id)

    def list_baseline_definitions(self) -> list[BaselineInfo]:
        return self._sla.list_baseline_definitions()

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        return self._sla.list_baselines(bizdate)

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail:
        return self._sla.get_baseline(name, bizdate, cycle)

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]:
        return self._sla.list_events(limit, open_only)

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]:
        return self._sla.list_alerts(limit)

    # -- acting ---------------------------------------------------------------------------

    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        return self._actions.rerun(instance_ids, downstream)

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        return self._actions.preview_rerun(instance_ids, downstream)

    def baseline_impact(
        self, action: str, instance_ids: Sequence[int], downstream: bool = False
    ) -> list[BaselineImpact] | None:
        """Unknown: DataWorks predicts baselines on its side and has no what-if operation, and
        its durations and protected sets are not in the API to predict with here."""
        return None

    def set_success(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._actions.on_instances("set success", instance_ids)

    def stop(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._actions.on_instances("stop", instance_ids)

    def freeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._actions.on_instances("freeze", instance_ids)

    def unfreeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._actions.on_instances("unfreeze", instance_ids)

    def freeze_node(self, node: str) -> ActionResult:
        return self._actions.set_recurrence(node, "Pause")

    def unfreeze_node(self, node: str) -> ActionResult:
        return self._actions.set_recurrence(node, "Normal")

    def preview_backfill(self, request: BackfillRequest) -> ActionResult:
        return backfills.preview(self.api, self.zone, request)

    def backfill(self, request: BackfillRequest) -> ActionResult:
        targets = [request.node, f"{request.start}..{request.end}"]
        return self._actions.act("backfill", targets, lambda: self.api.create_backfill(request))

    def undeploy(self, node: str) -> ActionResult:
        return self._actions.undeploy(node)

    def remove_upstream(
        self,
        instance_id: int,
        upstream_ids: Sequence[int] | None = None,
        comment: str = "",
        *,
        preview: bool = False,
    ) -> ActionResult:
        return self._actions.remove_upstream(instance_id, upstream_ids, comment, preview)

    def update_instances(
        self,
        instance_ids: Sequence[int],
        *,
        priority: int | None = None,
        resource_group: str | None = None,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        return self._actions.update_instances(
            instance_ids, priority, resource_group, comment, preview
        )

    def test_run(
        self, node: str, bizdate: date, *, comment: str = "", preview: bool = False
    ) -> ActionResult:
        return self._actions.test_run(node, bizdate, comment, preview)

    def run_manual(
        self,
        workflow: str,
        bizdate: date,
        nodes: Sequence[str] = (),
        *,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        return self._actions.run_manual(workflow, bizdate, nodes, comment, preview)

    def handle_event(self, event_id: int, status: str) -> ActionResult:
        def refuse() -> ActionResult:
            raise unavailable("handling events", "an event-status API (the OpenAPI has none)")

        return self._actions.act("handle event", [event_id, status], refuse)

    def record_refusal(self, action: str, targets: Sequence[int | str], reason: str) -> None:
        """A refusal the console made itself, in the same audit file as the actions'."""
        self._audit.write(action, targets, "refused", reason)
