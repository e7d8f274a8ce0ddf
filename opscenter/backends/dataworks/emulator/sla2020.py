"""The 2020-05-18 baseline (SLA), event and fired-alert operations (spec 4.6, 4.7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from opscenter.backends.dataworks.emulator.auth import ISO_UTC
from opscenter.backends.dataworks.emulator.base import EVERY, Group, legacy, required_int
from opscenter.backends.dataworks.emulator.mapping import compact, ms, paged
from opscenter.backends.dataworks.emulator.wire import V2020, Params, invalid
from opscenter.domain.records import AlertInfo, BaselineDetail, BaselineInfo, InstanceInfo


def paged_text(items: list, number: int, size: int, key: str) -> dict[str, Any]:
    """``paged`` with the paging numbers as strings, as ListBaselines and ListAlertMessages
    send them (the docs and the SDK's models)."""
    page = paged(items, number, size, key)
    return page | {name: str(page[name]) for name in ("PageNumber", "PageSize", "TotalCount")}


class Sla2020(Group):
    """Baselines and their statuses, baseline events as topics, and fired alerts."""

    VERSION = V2020
    ACTIONS = (
        "ListBaselines",
        "GetBaseline",
        "ListBaselineStatuses",
        "GetBaselineStatus",
        "GetBaselineKeyPath",
        "ListTopics",
        "GetTopicInfluence",
        "ListAlertMessages",
    )

    def _baseline_ids(self) -> dict[str, int]:
        return {b.name: b.id for b in self.backend.list_baseline_definitions()}

    @staticmethod
    def _definition(b: BaselineInfo) -> dict[str, Any]:
        return {
            "BaselineId": b.id,
            "BaselineName": b.name,
            "BaselineType": b.type.upper(),
            "Owner": b.owner,
            "Priority": b.priority,
            "Enabled": b.enabled,
            "AlertEnabled": True,
            "AlertMarginThreshold": b.margin,
            "OverTimeSettings": [
                {"Cycle": cycle, "Time": hhmm} for cycle, hhmm in enumerate(b.committed, start=1)
            ],
        }

    def ListBaselines(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        baselines = [self._definition(b) for b in self.backend.list_baseline_definitions()]
        return legacy(paged_text(baselines, number, size, "Baselines"))

    def GetBaseline(self, params: Params) -> dict[str, Any]:
        """One baseline as ListBaselines gives it, with the ids of the nodes it protects."""
        self._project(params)
        wanted = required_int(params, "BaselineId")
        found = [b for b in self.backend.list_baseline_definitions() if b.id == wanted]
        if not found:
            raise invalid("BaselineId", f"no baseline has id {wanted}")
        ids = {n.name: n.id for n in self.backend.list_nodes()}
        nodes = [ids[name] for name in found[0].nodes if name in ids]
        return legacy(self._definition(found[0]) | {"NodeIds": nodes})

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

    def _baseline(self, params: Params) -> tuple[int, BaselineDetail]:
        baseline_id = required_int(params, "BaselineId")
        names = {v: k for k, v in self._baseline_ids().items()}
        if baseline_id not in names:
            raise invalid("BaselineId", f"no baseline {baseline_id}")
        cycle = required_int(params, "InGroupId")
        detail = self.backend.get_baseline(names[baseline_id], self._baseline_day(params), cycle)
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
            {  # a step's status and finish are its Runs' (the SDK's model has no others)
                **{
                    k: v
                    for k, v in self._brief(step.instance).items()
                    if k not in ("Status", "FinishTime")
                },
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
        events = self.backend.list_events(limit=EVERY)
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
        event = next((e for e in self.backend.list_events(limit=EVERY) if e.id == topic_id), None)
        if event is None:
            raise invalid("TopicId", f"no topic {topic_id}")
        baseline_id = self._baseline_ids()[event.baseline]
        found = [
            b
            for b in self.backend.list_baselines(event.bizdate)
            if b.name == event.baseline and b.cycle == event.cycle
        ]
        influence: dict[str, Any] = {
            "BaselineId": baseline_id,
            "BaselineName": event.baseline,
            "Bizdate": self.map.bizdate_ms(event.bizdate),
            "InGroupId": event.cycle,
        }
        if found:
            status = self.map.baseline_status(found[0], baseline_id)
            influence.update(compact({"Buffer": status.get("Buffer"), "Status": status["Status"]}))
        return legacy({"Influences": [influence]})

    def ListAlertMessages(self, params: Params) -> dict[str, Any]:
        """One message per alert (rule, target), at its last send (or when it fired)."""
        number, size = params.paging()
        begin, end = self._window(params)
        user = params.text("AlertUser")
        messages = [
            self._alert_message(a)
            for a in self.backend.list_alerts(limit=EVERY)
            if begin <= (a.last_sent_at or a.first_at) <= end
        ]
        if user:
            messages = [m for m in messages if m["AlertUser"] == user]
        return legacy(paged_text(messages, number, size, "AlertMessages"))

    def _alert_message(self, alert: AlertInfo) -> dict[str, Any]:
        kind, _, rest = alert.target.partition(":")
        message: dict[str, Any] = {
            "AlertId": alert.id,
            "AlertTime": ms(alert.last_sent_at or alert.first_at),
            "AlertUser": self.backend.user,
            "AlertMethod": "MAIL",
            "AlertMessageStatus": "SEND_FAIL" if alert.last_error else "SEND_SUCCESS",
            "Source": "REMIND_ALERT",
            "Content": alert.message,
            "RemindName": alert.rule,
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
