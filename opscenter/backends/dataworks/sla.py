"""Baselines, their events and alerts over DataWorks: kept in the 2020-05-18 API for every
workspace. A baseline DataWorks still predicts is read blocked here when an instance it
waits on cannot finish without an operator, by the local rule (sla/predict.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from opscenter.backends.dataworks import records
from opscenter.backends.dataworks.api import Api, Site
from opscenter.domain.model import Status
from opscenter.domain.records import (
    AlertInfo,
    BaselineDetail,
    BaselineInfo,
    BaselineStatus,
    Blocker,
    EventInfo,
    InstanceInfo,
    KeyPathStep,
    no_baseline,
)

EVENT_SCAN_DAYS = 31  # how far back ListTopics / ListAlertMessages are read
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def _run_status(step: dict[str, Any]) -> str:
    """A key path step's status: its latest run's (GetBaselineKeyPath ``Runs``)."""
    runs = step.get("Runs") or []
    return str(runs[-1].get("Status", "")) if runs else ""


def _may_be_blocked(base: BaselineStatus) -> bool:
    """Unfinished and not ERROR (outputs frozen or missing: no blocker is named then)."""
    return not base.finished and base.status != "ERROR"


class Sla:
    """The workspace's baselines, events and alerts."""

    def __init__(self, site: Site, api: Api) -> None:
        self.site = site
        self.api = api
        self.calls = site.calls

    def _scan_window(self) -> dict[str, str]:
        end = self.site.clock.now().astimezone(UTC) + timedelta(days=1)
        begin = end - timedelta(days=EVENT_SCAN_DAYS + 1)
        return {"BeginTime": begin.strftime(ISO_UTC), "EndTime": end.strftime(ISO_UTC)}

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]:
        """ListTopics over the last EVENT_SCAN_DAYS, each topic's baseline and business
        date from GetTopicInfluence; ``updated_by`` is unknown to the API."""
        params = self._scan_window()
        if open_only:
            params["TopicStatuses"] = "NEW,FIXING"
        topics = self.calls.pages_2020("ListTopics", "Topics", params)
        topics = sorted(topics, key=lambda t: int(t["TopicId"]), reverse=True)[:limit]
        events = []
        for topic in topics:
            influences = self.calls.legacy("GetTopicInfluence", {"TopicId": topic["TopicId"]})
            found = (influences.get("Data") or {}).get("Influences") or [{}]
            events.append(records.event(topic, found[0], self.site.zone))
        return events

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]:
        """ListAlertMessages over the last EVENT_SCAN_DAYS: one message per send, so the
        send count, the rule's kind and resolution are not known here."""
        rows = self.calls.pages_2020("ListAlertMessages", "AlertMessages", self._scan_window())
        rows = sorted(rows, key=lambda r: int(r["AlertId"]), reverse=True)[:limit]
        return [records.alert(r, self.site.zone) for r in rows]

    def list_baseline_definitions(self) -> list[BaselineInfo]:
        """ListBaselines, then GetBaseline for each (only it names the protected nodes)."""
        project = {"ProjectId": self.site.project_id}
        names = {task_id: task["Name"] for task_id, task in self.api.tasks.all().items()}
        found = []
        for row in self.calls.pages_2020("ListBaselines", "Baselines", project):
            key = {"BaselineId": row["BaselineId"], **project}
            found.append(
                records.baseline_definition(self.calls.legacy("GetBaseline", key)["Data"], names)
            )
        return sorted(found, key=lambda b: b.id)

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        """ListBaselineStatuses; an unfinished baseline's status and key path are read too
        (GetBaselineStatus, GetBaselineKeyPath), so a blocked one reads blocked here as it
        does in its detail: two calls per unfinished baseline, and one per instance that
        may block it."""
        stamp = f"{bizdate.isoformat()}T00:00:00Z"
        rows = self.calls.pages_2020("ListBaselineStatuses", "BaselineStatuses", {"Bizdate": stamp})
        configs = {
            int(b["BaselineId"]): b
            for b in self.calls.pages_2020(
                "ListBaselines", "Baselines", {"ProjectId": self.site.project_id}
            )
        }
        found = []
        for row in rows:
            config = configs.get(int(row["BaselineId"]), {})
            base = records.baseline(row, config, self.site.zone)
            if _may_be_blocked(base):
                key = {"BaselineId": row["BaselineId"], "Bizdate": stamp, "InGroupId": base.cycle}
                status = self.calls.legacy("GetBaselineStatus", key)["Data"]
                path = self.calls.legacy("GetBaselineKeyPath", key)["Data"] or []
                base = self._blocked(base, status, path)
            found.append(base)
        return found

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail:
        stamp = f"{bizdate.isoformat()}T00:00:00Z"
        rows = self.calls.pages_2020("ListBaselineStatuses", "BaselineStatuses", {"Bizdate": stamp})
        found = [r for r in rows if r["BaselineName"] == name and int(r["InGroupId"]) == cycle]
        if not found:
            raise no_baseline(name, bizdate, cycle)
        key = {"BaselineId": found[0]["BaselineId"], "Bizdate": stamp, "InGroupId": cycle}
        status = self.calls.legacy("GetBaselineStatus", key)["Data"]
        path = self.calls.legacy("GetBaselineKeyPath", key)["Data"] or []
        steps = [
            KeyPathStep(
                self.api.instance(int(s["InstanceId"])),
                records.moment(s["Runs"][0].get("BeginCast")) or datetime.min,
                records.moment(s["Runs"][0].get("EndCast")) or datetime.min,
            )
            for s in path
            if s.get("Runs")
        ]
        last = status.get("LastInstance")
        key_instance = self.api.instance(int(last["InstanceId"])) if last else None
        base = replace(records.baseline(status, {}, self.site.zone), key_instance=key_instance)
        detail = self._blocked(base, status, path) if _may_be_blocked(base) else base
        return BaselineDetail(detail, steps, [])

    def _blocked(
        self, base: BaselineStatus, status: dict[str, Any], path: list[dict[str, Any]]
    ) -> BaselineStatus:
        """The baseline as the local rule reads it (sla/predict.py) when an instance it
        waits on cannot finish without an operator: blocked by it, no finish predicted
        (DataWorks' EndCast is a guess then), WARNING until the committed time and OVER
        after it (or when DataWorks says OVER), and no finish "if rerun now": the API has
        no what-if prediction. Its key instance is the first blocker on the key path."""
        blockers = self._blockers(status, path)
        if not blockers:
            return base
        now = self.site.clock.now().astimezone(UTC).replace(tzinfo=None)
        over = base.status == "OVER" or now > base.committed_at
        return replace(
            base,
            status="OVER" if over else "WARNING",
            predicted_finish=None,
            key_instance=blockers[0],
            blocked_by=tuple(
                Blocker(i.id, i.node, i.status) for i in sorted(blockers, key=lambda i: i.id)
            ),
            if_rerun_now=None,
        )

    def _blockers(self, status: dict[str, Any], path: list[dict[str, Any]]) -> list[InstanceInfo]:
        """The instances holding the baseline, in key path order: its blocking instance
        (GetBaselineStatus ``BlockInstance``) and every FAILURE on its key path, read each
        to tell a blocker from one still on its way.

        A blocker is FROZEN (a suspended instance, or one of a paused node), or FAILURE
        with no automatic rerun left. The API has no auto-rerun time, so a rerun counts
        as pending while the instance ran and failed fewer times than its node's rerun
        times allow (rerun mode not Denied; 2020 reads the instance's ``TaskRerunTime``);
        when that cannot be told (the node unknown, no rerun count given, a failure that
        never ran, as DataWorks fails a frozen instance at its time) a FAILURE on the key
        path counts as a blocker. An operator's stop is not visible either, so a stopped
        instance with reruns left reads as awaiting its rerun. Only the key path is seen:
        a blocker off it (or a frozen instance on it that is not the blocking instance)
        is left out rather than guessed."""
        order = [int(s["InstanceId"]) for s in path if s.get("InstanceId")]
        wanted = [
            int(s["InstanceId"])
            for s in path
            if s.get("InstanceId") and _run_status(s) == Status.FAILURE.value
        ]
        block = status.get("BlockInstance") or {}
        if block.get("InstanceId") and block.get("Status") in ("FAILURE", "NOT_RUN"):
            wanted.append(int(block["InstanceId"]))
        found = []
        for instance_id in dict.fromkeys(wanted):
            item = self.api.instance(instance_id)
            retrying = item.run_number >= 1 and records.retry_due(
                item, self.api.tasks.get(item.node_id)
            )
            if item.status is Status.FROZEN or (item.status is Status.FAILURE and not retrying):
                found.append(item)
        place = {instance_id: n for n, instance_id in enumerate(order)}
        return sorted(found, key=lambda i: place.get(i.id, -1))
