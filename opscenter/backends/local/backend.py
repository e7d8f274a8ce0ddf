"""The local backend: the Backend protocol over the SQLite store and the embedded engine.

A thin implementation: reads are the windowed queries of ``instances`` and ``reads``, each
over one connection; actions go through scheduler.actions, which check preconditions,
write state and audit in one transaction, and signal the scheduler. ``readonly`` is
enforced here, below every screen and verb, and so is a store this process cannot write
(opened read-only by ``open_store``): every action is refused with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from opscenter.backends.local import instances, reads
from opscenter.domain.clock import Clock
from opscenter.domain.model import NodeType, Status
from opscenter.domain.preconditions import read_only_refusal
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
    no_attempt,
    no_baseline,
    not_deployed,
    not_found,
)
from opscenter.domain.runlog import find_error_line
from opscenter.domain.times import to_local, to_store
from opscenter.scheduler import actions, emergency, ondemand
from opscenter.scheduler.diagnosis import diagnose
from opscenter.scheduler.logerrors import find_error
from opscenter.scheduler.logfile import quiet_log, read_page, text_page
from opscenter.scheduler.worldclock import StoreClock
from opscenter.sla import impact
from opscenter.store import lease
from opscenter.store.db import unwritable
from opscenter.store.models import WorkspaceRow
from opscenter.store.summary import status_counts


def _quiet_pages(instance_id: int, data: bytes, limit: int = 65536) -> Iterator[LogPage]:
    """A rendered log (attempt 0) page by page: follow_log's pages of a log that is whole."""
    offset = 0
    while offset < len(data):
        text, next_offset = text_page(data, offset, limit)
        yield LogPage(instance_id, 0, text, offset, next_offset, len(data))
        offset = next_offset


class LocalBackend:
    """One workspace in one store. ``on_change`` is called after every action (engine.wake)."""

    def __init__(
        self,
        db: Engine,
        workspace: str,
        clock: Clock,
        *,
        user: str,
        readonly: bool = False,
        source: str = "cli",
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.user = user
        self.readonly = readonly
        self.unwritable = unwritable(db)  # why the store cannot be written here, or None
        self.source = source
        self.on_change = on_change
        with db.connect() as conn:
            row = conn.execute(
                select(WorkspaceRow.id, WorkspaceRow.timezone, WorkspaceRow.deployed_by).where(
                    WorkspaceRow.name == workspace
                )
            ).one_or_none()
        if row is None:
            raise ActionRefused(not_deployed(workspace))
        self.workspace_id = row.id
        self._workspace_name = workspace
        self._timezone = row.timezone
        self._owner = row.deployed_by
        self._downstreams = reads.Downstreams()  # the node list's, between its pages

    # -- reading ------------------------------------------------------------------

    def workspace(self) -> WorkspaceInfo:
        holder = lease.live_holder(self.db)
        stopped = self.clock.stopped_at() if isinstance(self.clock, StoreClock) else None
        return WorkspaceInfo(
            self._workspace_name,
            self._timezone,
            "local",
            self.readonly or self.unwritable is not None,
            holder.holder if holder else "",
            speed=self.clock.speed,
            stopped_at=stopped,
            owner=self._owner,
            readonly_why=self.unwritable or "",
        )

    def now(self) -> datetime:
        return self.clock.now()

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        """Filtered in SQL: a 10,000-node workspace is read whole only when asked for whole."""
        flt = flt or NodeFilter()
        where = reads.node_conditions(flt)
        if where is None:
            return []
        with self.db.connect() as conn:
            return reads.nodes(
                conn, self.workspace_id, include_undeployed=flt.include_undeployed, where=where
            )

    def node_page(self, flt: NodeFilter) -> Page[NodeInfo, str]:
        with self.db.connect() as conn:
            return reads.node_page(conn, self.workspace_id, flt, self._downstreams)

    def node_choices(self) -> NodeChoices:
        with self.db.connect() as conn:
            return reads.node_choices(conn, self.workspace_id)

    def get_node(self, name: str) -> NodeInfo:
        with self.db.connect() as conn:
            found = reads.nodes(conn, self.workspace_id, include_undeployed=True, name=name)
        if not found:
            raise not_found("node", [name], self._workspace_name)
        return found[0]

    def get_node_by_id(self, node_id: int) -> NodeInfo:
        """Its name by the primary key, then the one node read."""
        with self.db.connect() as conn:
            name = reads.node_name(conn, self.workspace_id, node_id)
        if name is None:
            raise not_found("node", [node_id], self._workspace_name)
        return self.get_node(name)

    def list_instances(self, flt: InstanceFilter) -> Page:
        with self.db.connect() as conn:
            return instances.page(conn, self.workspace_id, flt)

    def get_instance(self, instance_id: int) -> InstanceInfo:
        with self.db.connect() as conn:
            found = instances.one(conn, self.workspace_id, instance_id)
        if found is None:
            raise not_found("instance", [instance_id], self._workspace_name)
        return found

    def parameters(self, instance_id: int) -> dict[str, str]:
        """The scheduling parameters as this instance runs with them: the workspace's and
        its node version's assignments, rendered for its cyctime, bizdate and job."""
        with self.db.connect() as conn:
            found = instances.parameters(conn, self.workspace_id, instance_id)
        if found is None:
            raise not_found("instance", [instance_id], self._workspace_name)
        return found

    def attempts(self, instance_id: int) -> list[AttemptInfo]:
        self.get_instance(instance_id)
        with self.db.connect() as conn:
            return instances.attempts(conn, instance_id)

    def _attempt(self, instance_id: int, attempt: int | None) -> AttemptInfo:
        found = self.attempts(instance_id)
        if not found:
            raise ActionRefused(f"instance #{instance_id} has not run yet: no log")
        if attempt is None:
            return found[-1]
        for item in found:
            if item.number == attempt:
                return item
        raise no_attempt(instance_id, attempt, len(found))

    def _quiet_log(self, instance_id: int) -> bytes | None:
        """The log of an instance that succeeded without running (a dry-run, a virtual node),
        rendered from the store's facts; None for one that ran or has not finished.

        Such an instance has no attempt and no file: a file written as it settles would
        repeat what its row says, cost the scheduler a write per virtual node, and be
        missing for the instances settled before it existed. Rendered, it is the same text
        from any process, before or after a restart.
        """
        info = self.get_instance(instance_id)
        quiet = info.dry_run or info.node_type == NodeType.VIRTUAL.value
        settled = info.finished_at
        if info.status is not Status.SUCCESS or not quiet or info.set_success or settled is None:
            return None
        with self.db.connect() as conn:
            last_start = instances.last_attempt_start(conn, instance_id)
            if last_start is not None and last_start >= (info.started_at or settled):
                return None  # it succeeded by running: its attempt has the log
            cron = instances.cron(conn, instance_id)
        text = quiet_log(
            node=info.node,
            node_type=info.node_type,
            dry_run=info.dry_run,
            dry_run_reason=info.dry_run_reason,
            cron=cron,
            cyctime=info.cyctime,
            settled=to_local(settled, ZoneInfo(self._timezone)),
            backfill_id=info.backfill_id,
        )
        return text.encode("utf-8")

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage:
        """A page of an attempt's log (the latest when ``attempt`` is None). An instance that
        succeeded without running has no attempt: unnamed, its log is a rendered note of why
        (attempt 0), after any attempt it had before."""
        if attempt is None and (quiet := self._quiet_log(instance_id)) is not None:
            text, next_offset = text_page(quiet, offset, limit)
            return LogPage(instance_id, 0, text, offset, next_offset, len(quiet))
        chosen = self._attempt(instance_id, attempt)
        path = Path(chosen.log_path)
        if not path.exists():
            elsewhere = chosen.host and chosen.host != lease.host_name()
            if elsewhere:  # several hosts on one store: the log is a file on the other one
                raise ActionRefused(
                    f"the log of attempt {chosen.number} of #{instance_id} is on host "
                    f"{chosen.host}, at {path}, which this host ({lease.host_name()}) cannot see "
                    "(logs are files on the scheduler's host: share its data folder at the "
                    "same path to read them here)"
                )
            if chosen.status is not Status.RUNNING:  # (a starting one has none yet)
                raise ActionRefused(
                    f"the log of attempt {chosen.number} of #{instance_id} is gone: {path} "
                    "(logs are files beside the state database; was it cleaned up?)"
                )
        text, next_offset = read_page(path, offset, limit)
        size = path.stat().st_size if path.exists() else 0
        return LogPage(instance_id, chosen.number, text, offset, next_offset, size)

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]:
        """Pages as the log grows; ends when the attempt has finished and all is read."""
        quiet = self._quiet_log(instance_id) if attempt is None else None
        if quiet is not None:
            yield from _quiet_pages(instance_id, quiet)  # it will not grow: read it once
            return
        number = self._attempt(instance_id, attempt).number
        offset = 0
        while True:
            page = self.read_log(instance_id, number, offset)
            if page.text:
                yield page
            offset = page.next_offset
            if page.at_end:
                current = self._attempt(instance_id, number)
                if current.status is not Status.RUNNING:
                    last = self.read_log(instance_id, number, offset)
                    if last.text:
                        yield last
                    return
                time.sleep(poll)

    def find_error(
        self,
        instance_id: int,
        attempt: int | None = None,
        offset: int = 0,
        *,
        forward: bool = True,
        cause: bool = False,
    ) -> int | None:
        """Through the process's index of the log file's error lines (scheduler.logerrors):
        a 100 MB log is not read up to its first error. A rendered log is searched whole."""
        if attempt is None and (quiet := self._quiet_log(instance_id)) is not None:
            return find_error_line(quiet, offset, forward=forward, cause=cause)
        path = Path(self._attempt(instance_id, attempt).log_path)
        return find_error(path, offset, forward=forward, cause=cause)

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]:
        self.get_instance(instance_id)
        with self.db.connect() as conn:
            return instances.relatives(conn, instance_id, direction, levels)

    def diagnose(self, instance_id: int) -> Diagnosis:
        self.get_instance(instance_id)
        with self.db.connect() as conn:
            return diagnose(conn, instance_id, self._now())

    def status_counts(self, bizdate: date) -> StatusCounts:
        with self.db.connect() as conn:
            return status_counts(conn, self.workspace_id, bizdate)

    def dashboard(self, bizdate: date) -> Dashboard:
        counts = self.status_counts(bizdate)
        baselines = self.list_baselines(bizdate)
        with self.db.connect() as conn:
            return reads.dashboard(
                conn,
                self.workspace_id,
                bizdate,
                self.clock.now(),
                ZoneInfo(self._timezone),
                counts=counts,
                baselines=baselines,
            )

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]:
        with self.db.connect() as conn:
            ids = reads.backfill_ids(conn, self.workspace_id, limit)
        return [self.get_backfill(i) for i in ids]

    def get_backfill(self, backfill_id: int) -> BackfillInfo:
        with self.db.connect() as conn:
            found = reads.backfill(conn, self.workspace_id, backfill_id)
        if found is None:
            raise not_found("backfill", [backfill_id], self._workspace_name)
        return found

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        with self.db.connect() as conn:
            return reads.audit_log(conn, limit, before_id)

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        with self.db.connect() as conn:
            return reads.baselines(conn, self.workspace_id, bizdate, self._now())

    def list_baseline_definitions(self) -> list[BaselineInfo]:
        with self.db.connect() as conn:
            return reads.baseline_definitions(conn, self.workspace_id)

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail:
        found = [b for b in self.list_baselines(bizdate) if b.name == name and b.cycle == cycle]
        if not found:
            raise no_baseline(name, bizdate, cycle)
        with self.db.connect() as conn:
            path = reads.key_path(conn, self.workspace_id, name, bizdate, cycle)
        events = [
            e for e in self.list_events(limit=500) if e.baseline == name and e.bizdate == bizdate
        ]
        return BaselineDetail(found[0], path, events)

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]:
        with self.db.connect() as conn:
            return reads.events(conn, self.workspace_id, limit, open_only)

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]:
        with self.db.connect() as conn:
            return reads.alerts(conn, self.workspace_id, limit)

    # -- acting -------------------------------------------------------------------

    def _now(self) -> datetime:
        return to_store(self.clock.now())

    def _act(
        self,
        action: str,
        targets: Sequence[int | str],
        call: Callable[[actions.Actor], ActionResult],
    ) -> ActionResult:
        self._refuse_if_unwritable(action)
        actor = actions.Actor(self.user, self._now(), self.source)
        if self.readonly:
            actions.refuse_readonly(self.db, actor, action, targets)
        result = call(actor)
        if self.on_change:
            self.on_change()
        return result

    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        name = "rerun downstream" if downstream else "rerun"
        return self._act(
            name,
            instance_ids,
            lambda a: actions.rerun(
                self.db, self.workspace_id, instance_ids, a, downstream=downstream
            ),
        )

    def _refuse_if_unwritable(self, action: str) -> None:
        """A store this process cannot write refuses every action (and preview, which takes
        the write lock), unaudited: the audit is in that store."""
        if self.unwritable is not None:
            raise ActionRefused(
                read_only_refusal(
                    action, f"{self.unwritable}; this refusal is not in the audit, in that store"
                )
            )

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        self._refuse_if_unwritable("rerun downstream" if downstream else "rerun")
        actor = actions.Actor(self.user, self._now(), self.source)
        return actions.preview_rerun(
            self.db, self.workspace_id, instance_ids, actor, downstream=downstream
        )

    def baseline_impact(
        self, action: str, instance_ids: Sequence[int], downstream: bool = False
    ) -> list[BaselineImpact] | None:
        if action not in impact.ACTIONS:
            return None
        affected = list(instance_ids)
        if action == "rerun" and downstream:
            affected = self.preview_rerun(instance_ids, downstream=True).affected
        return impact.impacts(self.db, self.workspace_id, action, affected, self._now())

    def set_success(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "set success",
            instance_ids,
            lambda a: actions.set_success(self.db, self.workspace_id, instance_ids, a),
        )

    def stop(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "stop",
            instance_ids,
            lambda a: actions.stop(self.db, self.workspace_id, instance_ids, a),
        )

    def freeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "freeze",
            instance_ids,
            lambda a: actions.freeze(self.db, self.workspace_id, instance_ids, a),
        )

    def unfreeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "unfreeze",
            instance_ids,
            lambda a: actions.unfreeze(self.db, self.workspace_id, instance_ids, a),
        )

    def freeze_node(self, node: str) -> ActionResult:
        return self._act(
            "freeze node",
            [node],
            lambda a: actions.set_node_frozen(self.db, self.workspace_id, node, a, frozen=True),
        )

    def unfreeze_node(self, node: str) -> ActionResult:
        return self._act(
            "unfreeze node",
            [node],
            lambda a: actions.set_node_frozen(self.db, self.workspace_id, node, a, frozen=False),
        )

    def preview_backfill(self, request: BackfillRequest) -> ActionResult:
        return actions.preview_backfill(self.db, self.workspace_id, request)

    def backfill(self, request: BackfillRequest) -> ActionResult:
        targets = [request.node, f"{request.start}..{request.end}"]
        return self._act(
            "backfill",
            targets,
            lambda a: actions.create_backfill(self.db, self.workspace_id, request, a),
        )

    # -- runs on demand (spec 6.5) ---------------------------------------------------

    def test_run(
        self, node: str, bizdate: date, *, comment: str = "", preview: bool = False
    ) -> ActionResult:
        return self._act_or_preview(
            "test run",
            [node, bizdate.isoformat()],
            lambda a: ondemand.test_run(
                self.db, self.workspace_id, node, bizdate, a, comment=comment, preview=preview
            ),
            preview=preview,
        )

    def run_manual(
        self,
        workflow: str,
        bizdate: date,
        nodes: Sequence[str] = (),
        *,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        return self._act_or_preview(
            "run manual",
            [workflow, *nodes, bizdate.isoformat()],
            lambda a: ondemand.run_manual(
                self.db,
                self.workspace_id,
                workflow,
                bizdate,
                nodes,
                a,
                comment=comment,
                preview=preview,
            ),
            preview=preview,
        )

    def _act_or_preview(
        self,
        action: str,
        targets: Sequence[int | str],
        call: Callable[[actions.Actor], ActionResult],
        *,
        preview: bool,
    ) -> ActionResult:
        """A preview answers what the act would: under read-only, its refusal (unaudited,
        as a preview changes and records nothing)."""
        if not preview:
            return self._act(action, targets, call)
        self._refuse_if_unwritable(action)
        if self.readonly:
            raise ActionRefused(read_only_refusal(action))
        return call(actions.Actor(self.user, self._now(), self.source))

    def handle_event(self, event_id: int, status: str) -> ActionResult:
        return self._act(
            "handle event",
            [event_id, status],
            lambda a: actions.handle_event(self.db, self.workspace_id, event_id, status, a),
        )

    def undeploy(self, node: str) -> ActionResult:
        return self._act(
            "undeploy", [node], lambda a: actions.undeploy(self.db, self.workspace_id, node, a)
        )

    # -- emergency operations (spec 6.1) --------------------------------------------

    def remove_upstream(
        self,
        instance_id: int,
        upstream_ids: Sequence[int] | None = None,
        comment: str = "",
        *,
        preview: bool = False,
    ) -> ActionResult:
        return self._act_or_preview(
            emergency.REMOVE_UPSTREAM,
            [instance_id],
            lambda a: emergency.remove_upstream(
                self.db,
                self.workspace_id,
                instance_id,
                upstream_ids,
                a,
                comment=comment,
                preview=preview,
            ),
            preview=preview,
        )

    def update_instances(
        self,
        instance_ids: Sequence[int],
        *,
        priority: int | None = None,
        resource_group: str | None = None,
        comment: str = "",
        preview: bool = False,
    ) -> ActionResult:
        return self._act_or_preview(
            emergency.UPDATE,
            instance_ids,
            lambda a: emergency.update_instances(
                self.db,
                self.workspace_id,
                instance_ids,
                a,
                priority=priority,
                resource_group=resource_group,
                comment=comment,
                preview=preview,
            ),
            preview=preview,
        )

    def record_refusal(self, action: str, targets: Sequence[int | str], reason: str) -> None:
        """A refusal the console made itself, audited as ``actions`` audits its own, except
        in a store this process cannot write, where nothing can be recorded."""
        from opscenter.store import audit
        from opscenter.store.tx import writing

        if self.unwritable is not None:
            return
        with writing(self.db) as conn:
            audit.record(
                conn,
                at=self._now(),
                user=self.user,
                action=action,
                targets=list(targets),
                outcome="refused",
                detail=reason,
                source=self.source,
            )
