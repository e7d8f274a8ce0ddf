"""Reading a DataWorks workspace in the console's records: nodes, instances and the filters
the API cannot express, logs paged over a run's whole text, relatives, run history and the
facts the domain's diagnosis needs. Whatever the API version, through its ``Api``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date
from typing import Any

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Api, InstanceQuery, Site
from opscenter.backends.dataworks.api2020 import history
from opscenter.backends.dataworks.logcache import LogCache
from opscenter.domain import diagnosis
from opscenter.domain import records as domain_records
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionRefused,
    AttemptInfo,
    Diagnosis,
    InstanceFilter,
    InstanceInfo,
    LogPage,
    NodeChoices,
    NodeFilter,
    NodeInfo,
    Page,
    Relative,
    StatusCounts,
    no_attempt,
    node_matches,
    not_found,
)
from opscenter.domain.runlog import final_words, find_error_line


def instance_query(
    flt: InstanceFilter,
) -> tuple[InstanceQuery, Callable[[InstanceInfo], bool], bool]:
    """(what DataWorks filters by, the row check done here, whether its count is exact)."""
    if flt.bizdate is None and flt.backfill_id is None:
        raise ActionRefused(
            "listing instances over DataWorks needs a business date or a backfill: "
            "ListTaskInstances requires Bizdate"
        )
    statuses = set(flt.statuses)
    one = len(statuses) == 1 or statuses == {Status.NOT_RUN, Status.FROZEN}
    query = InstanceQuery(
        bizdate=flt.bizdate,
        owner=flt.owner or None,
        task_name=flt.node or flt.text or None,
        kind=flt.kind,
        backfill_id=flt.backfill_id,
        status=next(iter(statuses)) if one else None,
        frozen_only=statuses == {Status.FROZEN},
        descending=flt.descending,
    )
    exact = not flt.node and (
        not statuses
        or statuses in ({Status.FROZEN}, {Status.NOT_RUN, Status.FROZEN})
        or (len(statuses) == 1 and Status.NOT_RUN not in statuses)
    )

    def keep(item: InstanceInfo) -> bool:
        return (
            (not statuses or item.status in statuses)
            and (not flt.node or item.node == flt.node)
            and (not flt.text or flt.text.lower() in item.node.lower())
        )

    return query, keep, exact


def log_page(instance_id: int, attempt: int, data: bytes, offset: int, limit: int) -> LogPage:
    """A page of a whole log's UTF-8 bytes, never ending inside a character."""
    decoded = data[offset : offset + limit].decode(errors="ignore")
    next_offset = offset + len(decoded.encode())
    return LogPage(instance_id, attempt, decoded, offset, next_offset, len(data))


class Reads:
    """The workspace's nodes, instances, logs and relatives."""

    def __init__(self, site: Site, api: Api) -> None:
        self.site = site
        self.api = api
        self._ended_logs = LogCache()
        # the nodes of the task list last read, with that list: scrolling converts none again
        self._nodes: tuple[dict[int, dict[str, Any]], list[NodeInfo]] | None = None

    # -- nodes ----------------------------------------------------------------------------

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        """Task summaries: dependencies and code come with get_node (one call per task)."""
        flt = flt or NodeFilter()
        nodes = self._task_nodes(refresh=True)
        return sorted((n for n in nodes if node_matches(flt, n)), key=lambda n: n.name)

    def node_page(self, flt: NodeFilter) -> Page[NodeInfo, str]:
        """A window by name. ListTasks pages in no order we can key, so the task list is
        read whole (paged by the API) for a window at either end or read again (a refresh,
        ``including``) and kept for the pages scrolled to after it."""
        nodes = self._task_nodes(refresh=flt.after is None or flt.including)
        return domain_records.node_page(flt, (n for n in nodes if node_matches(flt, n)))

    def node_choices(self) -> NodeChoices:
        return domain_records.node_choices(self._task_nodes(refresh=False))

    def _task_nodes(self, *, refresh: bool) -> list[NodeInfo]:
        """The task list as nodes, converted once per read of it (10,000 tasks take about
        100 ms to convert, which a page scrolled to would pay again)."""
        tasks = self.api.tasks.all(refresh=refresh)
        kept = self._nodes
        if kept is not None and kept[0] is tasks:
            return kept[1]
        nodes = [records.node(t) for t in tasks.values()]
        self._nodes = (tasks, nodes)
        return nodes

    def get_node(self, name: str) -> NodeInfo:
        tasks = self.api.tasks.all(refresh=True)
        found = [t for t in tasks.values() if t["Name"] == name]
        if not found:
            raise not_found("node", [name], self.site.name)
        detail = self.api.task_detail(int(found[0]["Id"]))
        node = records.node(detail, {i: t["Name"] for i, t in tasks.items()})
        downstreams = sorted(child["Name"] for _, child in self.api.downstream_tasks(found[0]))
        return dataclasses.replace(node, downstreams=tuple(downstreams))

    def get_node_by_id(self, node_id: int) -> NodeInfo:
        """The deployed task with that id (DataWorks lists no undeployed task)."""
        task = self.api.tasks.all(refresh=True).get(node_id)
        if task is None:
            raise not_found("node", [node_id], self.site.name)
        return self.get_node(task["Name"])

    # -- instances ------------------------------------------------------------------------

    def list_instances(self, flt: InstanceFilter) -> Page:
        """Instances sorted by cyctime (then id), as our (cyctime, id) keyset.

        The API pages by number, so the ``after`` key is found by reading pages from the
        first; filters the API cannot express (several statuses, NotRun without Pause, an
        exact node name) are applied here, and then every page is read to count.
        """
        query, keep, exact = instance_query(flt)
        rows: list[InstanceInfo] = []
        total = matched = 0
        for info, count in self.api.instances(query):
            total = count
            if not keep(info):
                continue
            matched += 1
            if flt.after and not self._past(info, flt):
                continue
            if len(rows) <= flt.limit:
                rows.append(info)
            if exact and len(rows) > flt.limit:
                break
        items = rows[: flt.limit]
        more = len(rows) > flt.limit
        next_after = (items[-1].cyctime, items[-1].id) if more and items else None
        return Page(items, total if exact else matched, next_after)

    @staticmethod
    def _past(item: InstanceInfo, flt: InstanceFilter) -> bool:
        assert flt.after is not None
        key = (item.cyctime, item.id)
        return key < flt.after if flt.descending else key > flt.after

    def periodic(self, bizdate: date) -> list[InstanceInfo]:
        """Every periodic instance of the business date (all pages)."""
        query, _, _ = instance_query(InstanceFilter(bizdate=bizdate, kind=InstanceKind.PERIODIC))
        return [item for item, _ in self.api.instances(query)]

    def status_counts(self, bizdate: date) -> StatusCounts:
        """Periodic instances of the date counted here: GetInstanceStatusCount merges
        FROZEN into NotRun and has no dry-run count."""
        return records.counts(bizdate, self.periodic(bizdate))

    def attempts(self, instance_id: int) -> list[AttemptInfo]:
        """2020 ListInstanceHistory: one row per run (the 2024 API has no history list)."""
        rows = history(self.site.calls, instance_id)
        return [records.attempt(instance_id, number, r) for number, r in enumerate(rows, 1)]

    # -- logs -----------------------------------------------------------------------------

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage:
        """The API returns a run's whole text, so offsets are over its UTF-8 bytes. A run
        that has ended never changes: its text is kept, and paging through it again (the
        console names the attempt) costs no call at all. An instance that succeeded with
        no run (a dry run, a virtual node) has the log DataWorks gives it, unnamed
        (attempt 0, as over the local store)."""
        attempt, data = self._log_text(instance_id, attempt)[:2]
        return log_page(instance_id, attempt, data, offset, limit)

    def find_error(
        self, instance_id: int, attempt: int | None, offset: int, forward: bool, cause: bool
    ) -> int | None:
        """Searched in the run's whole text, which the API sends anyway (and which is kept
        once the run has ended): no index to keep, the text is in memory."""
        data = self._log_text(instance_id, attempt)[1]
        return find_error_line(data, offset, forward=forward, cause=cause)

    def _log_page(
        self, instance_id: int, attempt: int | None, offset: int, limit: int
    ) -> tuple[LogPage, InstanceInfo]:
        """The page, and the instance as it was read with it."""
        number, data, info = self._log_text(instance_id, attempt, fresh=True)
        assert info is not None
        return log_page(instance_id, number, data, offset, limit), info

    def _log_text(
        self, instance_id: int, attempt: int | None, *, fresh: bool = False
    ) -> tuple[int, bytes, InstanceInfo | None]:
        """The run's number and whole log, and the instance when it was read for them: a
        run that has ended is kept (asked by its number, it costs no call unless ``fresh``)."""
        kept = self._ended_logs.get((instance_id, attempt)) if attempt and not fresh else None
        if attempt and kept is not None:
            return attempt, kept, None
        info = self.api.instance(instance_id)
        if info.run_number < 1:
            if info.status is not Status.SUCCESS or attempt:
                raise ActionRefused(f"instance #{instance_id} has not run yet: no log")
            # succeeded with no run: not kept, as a rerun may settle it again at another time
            return 0, self.api.log_text(instance_id, None).encode(), info
        number = attempt or info.run_number
        if not 1 <= number <= info.run_number:
            raise no_attempt(instance_id, number, info.run_number)
        data = self._ended_logs.get((instance_id, number))
        if data is None:
            data = self.api.log_text(instance_id, number).encode()
            # whole for good: a later run exists, or this one succeeded or failed
            ended = number < info.run_number or info.status in (Status.SUCCESS, Status.FAILURE)
            if ended and data:
                self._ended_logs.put((instance_id, number), data)
        return number, data, info

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]:
        """Pages as the log grows; ends once that run has ended and all is read. The run is
        fixed at the start, so a rerun meanwhile cannot splice another run's text onto it."""
        number, offset = attempt, 0
        while True:
            page, info = self._log_page(instance_id, number, offset, 65536)
            number = page.attempt  # the latest run when none was named, from the first page on
            if page.text:
                yield page
            offset = page.next_offset
            if page.at_end and (number < info.run_number or info.status is not Status.RUNNING):
                return
            time.sleep(poll)

    # -- relatives and diagnosis ----------------------------------------------------------

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]:
        found: list[Relative] = []
        seen = {instance_id}
        frontier = [instance_id]
        for level in range(1, levels + 1):
            nxt: list[int] = []
            for via in frontier:
                for cross, item in self.api.neighbours(via, direction):
                    if item.id not in seen:
                        seen.add(item.id)
                        nxt.append(item.id)
                        found.append(Relative(level, item, via, cross))
            frontier = nxt
        return found

    def diagnose(self, instance_id: int) -> Diagnosis:
        """The domain's diagnosis over what the API tells. It does not tell who holds a
        resource group's slots, who froze an instance, whether an operator set a success,
        nor when an automatic rerun is due: those facts go as unknown, and domain says so."""
        item = self.api.instance(instance_id)
        task = self.api.tasks.get(item.node_id)
        zone = self.site.zone
        due = item.cyctime.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        return diagnosis.diagnose(
            diagnosis.DiagnosisFacts(
                instance_id=instance_id,
                node=item.node,
                status=item.status,
                cyctime=item.cyctime,
                due_at=due,
                now=self.site.clock.now().astimezone(UTC).replace(tzinfo=None),
                resource_group=item.resource_group,
                upstream=diagnosis.walk_upstream(instance_id, self._upstream_facts),
                dry_run=item.dry_run,
                dry_run_reason=item.dry_run_reason,
                set_success=diagnosis.UNKNOWN,
                node_frozen=(task.get("Trigger") or {}).get("Recurrence") == "Pause",
                frozen_by=diagnosis.UNKNOWN if item.status is Status.FROZEN else None,
                run_number=item.run_number,
                max_attempts=item.max_attempts,
                rerun_mode=records.rerun_mode(task),
                started_at=item.started_at,
                last_reason=self._last_reason(item),
                retry_at=diagnosis.UNKNOWN,
                zone=zone,
            )
        )

    def _upstream_facts(self, ids: Sequence[int]) -> dict[int, list[diagnosis.Upstream]]:
        """Each instance's upstream instances (one read per id)."""
        return {
            i: [
                diagnosis.Upstream(up.id, up.node, up.status, up.cyctime, cross)
                for cross, up in self.api.neighbours(i, "up")
            ]
            for i in ids
        }

    def _last_reason(self, item: InstanceInfo) -> str | None:
        """Why a failed instance's last run ended: its history row's ErrorMessage (the
        attempt's reason, as the local store keeps it), else its log's last error line (by
        the local rule, ``runlog.final_words``); None when it never ran."""
        if item.status is not Status.FAILURE:
            return None
        tried = self.attempts(item.id)
        reason = (tried[-1].reason or "") if tried else ""
        if not reason and item.run_number:
            reason = final_words(self.api.log_text(item.id, item.run_number)) or "no log"
        return reason if tried or item.run_number else None
