"""The dashboard over DataWorks, built from the date's instances, the 2020 error ranking
(TopTenErrorTimesInstance) and the baselines, counted here as the local one counts.

The API has no auto-rerun time, so a failure still within its node's rerun times (and
rerun mode not Denied) counts as awaiting its auto rerun; 2020's TopTenElapsedTimeInstance
takes no date, so the slowest are ranked here; the success trend reads the successes of the
business dates that can finish on those days (three days back), so a backfill of an older
date is not counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Site
from opscenter.backends.dataworks.reads import Reads, instance_query
from opscenter.backends.dataworks.sla import Sla
from opscenter.domain.model import Status
from opscenter.domain.records import Dashboard, InstanceFilter, InstanceInfo, NodeErrors


def dashboard(site: Site, reads: Reads, sla: Sla, bizdate: date) -> Dashboard:
    api = reads.api
    now = site.clock.now()
    now_utc = now.astimezone(UTC).replace(tzinfo=None)
    items = reads.periodic(bizdate)
    failed = [
        i
        for i in items
        if i.status is Status.FAILURE and not records.retry_due(i, api.tasks.get(i.node_id))
    ]
    failed.sort(key=lambda i: (i.finished_at or datetime.min, i.id), reverse=True)
    ran = [i for i in items if i.started_at and not i.dry_run and i.node_type != "virtual"]
    ran.sort(key=lambda i: (-_elapsed(i, now_utc), i.id))
    ranking = site.calls.legacy("TopTenErrorTimesInstance", {"ProjectId": site.project_id})
    top_errors = [
        NodeErrors(r["NodeName"], r.get("Owner", ""), int(r.get("Count") or 0))
        for r in (ranking.get("InstanceErrorRank") or {}).get("ErrorRank") or []
    ]
    today = now.astimezone(site.zone).date()
    hourly = _hourly_successes(site, reads, today - timedelta(days=1), today)
    needs_action = failed[:20]
    return Dashboard(
        counts=records.counts(bizdate, items),
        needs_action=needs_action,
        baselines=sla.list_baselines(bizdate),
        top_errors=top_errors,
        slowest=ran[:10],
        succeeded_per_hour=hourly[1],
        succeeded_per_hour_before=hourly[0],
        now=now,
        failure_reasons=_failure_reasons(reads, needs_action),
    )


def _elapsed(item: InstanceInfo, now_utc: datetime) -> float:
    """Seconds run so far (or in all, once finished); only started ones are ranked."""
    assert item.started_at is not None
    return ((item.finished_at or now_utc) - item.started_at).total_seconds()


def _failure_reasons(reads: Reads, failed: list[InstanceInfo]) -> dict[int, str]:
    """The last attempt's reason of each failed instance (the API has no batch read)."""
    reasons = {}
    for info in failed:
        tried = reads.attempts(info.id)
        reasons[info.id] = tried[-1].reason if tried else ""
    return reasons


def _hourly_successes(site: Site, reads: Reads, *days: date) -> list[list[int]]:
    """Successes (not dry runs) finished in each hour of each of ``days`` in the workspace
    zone: the business dates that can finish on them (three back) are read once for all
    the days, each date one instance list read."""
    starts = [datetime.combine(day, datetime.min.time(), site.zone) for day in days]
    counts = [[0] * 24 for _ in days]
    dates = {day - timedelta(days=back) for day in days for back in range(4)}
    for bizdate in sorted(dates):
        query, _, _ = instance_query(InstanceFilter(bizdate=bizdate, statuses=(Status.SUCCESS,)))
        for item, _ in reads.api.instances(query):
            if item.dry_run or item.finished_at is None:
                continue
            finished = item.finished_at.replace(tzinfo=UTC)
            for start, hours in zip(starts, counts, strict=True):
                hour = (finished - start).total_seconds() // 3600
                if 0 <= hour < 24:
                    hours[int(hour)] += 1
    return counts
