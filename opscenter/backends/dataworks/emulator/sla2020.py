"""The 2020-05-18 baseline (SLA), event and fired-alert operations (spec 4.6, 4.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from opscenter.backends.dataworks.emulator.auth import ISO_UTC
from opscenter.backends.dataworks.emulator.base import Group, legacy
from opscenter.backends.dataworks.emulator.mapping import compact, ms, paged
from opscenter.backends.dataworks.emulator.wire import V2020, Params, invalid
from opscenter.domain.records import InstanceInfo
from opscenter.store.models import AlertRow, BaselineInstanceRow, BaselineRow, EventRow


class Sla2020(Group):
    """Baselines and their statuses, baseline events as topics, and fired alerts."""

    VERSION = V2020
    ACTIONS = (
        "ListBaselines",
        "ListBaselineStatuses",
        "GetBaselineStatus",
        "GetBaselineKeyPath",
        "ListTopics",
        "GetTopicInfluence",
        "ListAlertMessages",
    )

    def _baseline_ids(self) -> dict[str, int]:
        with self.backend.db.connect() as conn:
            rows = conn.execute(
                select(BaselineRow.name, BaselineRow.id).where(
                    BaselineRow.workspace_id == self.backend.workspace_id
                )
            ).all()
        return dict(rows)  # type: ignore[arg-type]

    def ListBaselines(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        with self.backend.db.connect() as conn:
            rows = conn.execute(
                select(BaselineRow)
                .where(BaselineRow.workspace_id == self.backend.workspace_id)
                .order_by(BaselineRow.id)
            ).all()
        baselines = [
            {
                "BaselineId": r.id,
                "BaselineName": r.name,
                "BaselineType": r.type.upper(),
                "Owner": r.owner,
                "Priority": r.priority,
                "Enabled": r.enabled,
                "AlertEnabled": True,
                "AlertMarginThreshold": r.margin,
            }
            for r in rows
        ]
        return legacy(paged(baselines, number, size, "Baselines"))

    def ListBaselineStatuses(self, params: Params) -> dict[str, Any]:
        number, size = params.paging()
        bizdate = self._baseline_day(params)
        ids = self._baseline_ids()
        wanted = {s.strip() for s in params.text("Status").split(",") if s.strip()}
        rows = [
            self.map.baseline_status(b, ids[b.name]) for b in self.backend.list_baselines(bizdate)
        ]
        rows = [r for r in rows if not wanted or r["Status"] in wanted]
        return legacy(paged(rows, number, size, "BaselineStatuses"))

    def _baseline_day(self, params: Params) -> date:
        stamp = params.text("Bizdate", required=True)
        try:
            moment = datetime.strptime(stamp, ISO_UTC).replace(tzinfo=UTC)
        except ValueError:
            raise invalid("Bizdate", "expected yyyy-MM-ddTHH:mm:ssZ (UTC)") from None
        if moment.time() == datetime.min.time():
            return moment.date()
        return moment.astimezone(self.map.zone).date()

    def _baseline(self, params: Params) -> tuple[int, Any]:
        baseline_id = params.int("BaselineId", required=True)
        names = {v: k for k, v in self._baseline_ids().items()}
        if baseline_id not in names:
            raise invalid("BaselineId", f"no baseline {baseline_id}")
        cycle = params.int("InGroupId", required=True)
        detail = self.backend.get_baseline(names[baseline_id], self._baseline_day(params), cycle)  # type: ignore[arg-type]
        return baseline_id, detail

    def GetBaselineStatus(self, params: Params) -> dict[str, Any]:
        baseline_id, detail = self._baseline(params)
        data = self.map.baseline_status(detail.status, baseline_id)
        key = detail.status.key_instance
        if key is not None:
            data["LastInstance"] = self._brief(key)
            if not key.status.finished:
                data["BlockInstance"] = self._brief(key)
        return legacy(data)

    def _brief(self, item: InstanceInfo) -> dict[str, Any]:
        return compact(
            {
                "InstanceId": item.id,
                "NodeId": item.node_id,
                "NodeName": item.node,
                "Owner": item.owner,
                "ProjectId": self.map.project_id,
                "Status": self.map.instance_2020(item)["Status"],
                "FinishTime": ms(item.finished_at),
            }
        )

    def GetBaselineKeyPath(self, params: Params) -> dict[str, Any]:
        _, detail = self._baseline(params)
        steps = [
            {
                **self._brief(step.instance),
                "Bizdate": self.map.bizdate_ms(step.instance.bizdate),
                "InGroupId": detail.status.cycle,
                "Runs": [
                    compact(
                        {
                            "Status": self.map.instance_2020(step.instance)["Status"],
                            "BeginCast": ms(step.est_start),
                            "EndCast": ms(step.est_finish),
                            "BeginRunningTime": ms(step.instance.started_at),
                            "FinishTime": ms(step.instance.finished_at),
                        }
                    )
                ],
                "Topics": [
                    {"TopicId": e.id, "TopicName": e.message}
                    for e in detail.events
                    if e.instance_id == step.instance.id
                ],
            }
            for step in detail.key_path
        ]
        return legacy(steps)

    # -- events and fired alerts ------------------------------------------------------------

    def _window(self, params: Params) -> tuple[datetime, datetime]:
        """``BeginTime``/``EndTime`` (UTC ISO) as naive UTC, the store's convention."""
        moments = []
        for name in ("BeginTime", "EndTime"):
            stamp = params.text(name, required=True)
            try:
                moments.append(datetime.strptime(stamp, ISO_UTC))
            except ValueError:
                raise invalid(name, "expected yyyy-MM-ddTHH:mm:ssZ (UTC)") from None
        return moments[0], moments[1]

    def ListTopics(self, params: Params) -> dict[str, Any]:
        """Baseline events as topics; ``FixTime`` only once recovered."""
        number, size = params.paging()
        begin, end = self._window(params)
        statuses = {s.strip() for s in params.text("TopicStatuses").split(",") if s.strip()}
        kinds = {s.strip() for s in params.text("TopicTypes").split(",") if s.strip()}
        node_id, instance_id = params.int("NodeId"), params.int("InstanceId")
        if node_id is not None and instance_id is not None:
            raise invalid("InstanceId", "give NodeId or InstanceId, not both")
        owner = params.text("Owner")
        events = self.backend.list_events(limit=1_000_000)
        instances = {e.instance_id: self.backend.get_instance(e.instance_id) for e in events}
        topics = [
            compact(
                {
                    "TopicId": e.id,
                    "TopicName": e.message,
                    "TopicType": e.kind,
                    "TopicStatus": e.status,
                    "NodeId": instances[e.instance_id].node_id,
                    "NodeName": e.node,
                    "InstanceId": e.instance_id,
                    "HappenTime": ms(e.created_at),
                    "FixTime": ms(e.updated_at) if e.status == "RECOVER" else None,
                }
            )
            for e in events
            if begin <= e.created_at <= end
            and (not statuses or e.status in statuses)
            and (not kinds or e.kind in kinds)
            and (node_id is None or instances[e.instance_id].node_id == node_id)
            and (instance_id is None or e.instance_id == instance_id)
            and (not owner or instances[e.instance_id].owner == owner)
        ]
        return legacy(paged(topics, number, size, "Topics"))

    def GetTopicInfluence(self, params: Params) -> dict[str, Any]:
        """The baseline (business date and cycle) the event endangers."""
        topic_id = params.int("TopicId", required=True)
        with self.backend.db.connect() as conn:
            row = conn.execute(
                select(BaselineRow.id, BaselineRow.name, BaselineInstanceRow.bizdate)
                .add_columns(BaselineInstanceRow.cycle)
                .join(EventRow, EventRow.baseline_id == BaselineRow.id)
                .join(BaselineInstanceRow, BaselineInstanceRow.id == EventRow.baseline_instance_id)
                .where(EventRow.id == topic_id, BaselineRow.workspace_id == self.map.project_id)
            ).one_or_none()
        if row is None:
            raise invalid("TopicId", f"no topic {topic_id}")
        found = [
            b
            for b in self.backend.list_baselines(row.bizdate)
            if b.name == row.name and b.cycle == row.cycle
        ]
        influence: dict[str, Any] = {
            "BaselineId": row.id,
            "BaselineName": row.name,
            "Bizdate": self.map.bizdate_ms(row.bizdate),
            "InGroupId": row.cycle,
        }
        if found:
            status = self.map.baseline_status(found[0], row.id)
            influence.update(compact({"Buffer": status.get("Buffer"), "Status": status["Status"]}))
        return legacy({"Influences": [influence]})

    def ListAlertMessages(self, params: Params) -> dict[str, Any]:
        """One message per alert (rule, target), at its last send (or when it fired)."""
        number, size = params.paging()
        begin, end = self._window(params)
        user = params.text("AlertUser")
        with self.backend.db.connect() as conn:
            rows = conn.execute(
                select(AlertRow)
                .where(AlertRow.workspace_id == self.map.project_id)
                .order_by(AlertRow.id.desc())
            ).all()
        messages = [
            self._alert_message(r) for r in rows if begin <= (r.last_sent_at or r.first_at) <= end
        ]
        if user:
            messages = [m for m in messages if m["AlertUser"] == user]
        return legacy(paged(messages, number, size, "AlertMessages"))

    def _alert_message(self, row: Any) -> dict[str, Any]:
        kind, _, rest = row.target.partition(":")
        message: dict[str, Any] = {
            "AlertId": str(row.id),
            "AlertTime": ms(row.last_sent_at or row.first_at),
            "AlertUser": self.backend.user,
            "AlertMethod": "MAIL",
            "AlertMessageStatus": "SEND_FAIL" if row.last_error else "SEND_SUCCESS",
            "Source": "REMIND_ALERT",
            "Content": row.message,
            "RemindName": row.rule,
            "Nodes": [],
            "Instances": [],
            "Topics": [],
        }
        if kind == "instance" and rest.isdigit():
            item = self.backend.get_instance(int(rest))
            message["Instances"] = [
                {"InstanceId": item.id, "NodeId": item.node_id, "NodeName": item.node}
            ]
            message["Nodes"] = [{"NodeId": item.node_id, "NodeName": item.node}]
        elif kind == "baseline":
            baseline_id, _, day = rest.partition(":")
            ids = {v: k for k, v in self._baseline_ids().items()}
            if baseline_id.isdigit() and day:
                message["SlaAlert"] = {
                    "BaselineId": int(baseline_id),
                    "BaselineName": ids.get(int(baseline_id), ""),
                    "Bizdate": self.map.bizdate_ms(date.fromisoformat(day[:10])),
                }
        return message
