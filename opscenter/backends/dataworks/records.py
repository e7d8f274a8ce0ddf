"""DataWorks' records read into ours, so the console sees what it sees over the local backend
(spec 3.3, 3.10 and the emulator's mapping notes): ``NotRun`` + ``Pause`` is FROZEN,
``Success`` + ``Skip`` a dry run, moments are epoch milliseconds turned into naive UTC, and
cyctimes and business dates are read in the workspace's zone. Pure: no calls here."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks.vocabulary import (
    BASELINE_STATUSES,
    DAG_TYPES,
    KINDS,
    MANUAL_TRIGGER,
    REPEAT_MODES,
    RERUN_MODES,
    SCHEDULER_TYPES,
    STATUSES,
    STATUSES_2020,
    TASK_TYPES,
)
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import MANUAL_CYCLE, InstanceKind, Status
from opscenter.domain.records import (
    AlertInfo,
    AttemptInfo,
    BaselineInfo,
    BaselineStatus,
    EventInfo,
    InstanceInfo,
    NodeInfo,
    StatusCounts,
)


def moment(millis: Any) -> datetime | None:
    """Epoch milliseconds as the records keep moments: naive UTC."""
    if millis in (None, ""):
        return None
    return datetime.fromtimestamp(int(millis) / 1000, UTC).replace(tzinfo=None)


def wall(millis: Any, zone: ZoneInfo) -> datetime:
    """Epoch milliseconds as a naive wall time of the workspace (a cyctime)."""
    return datetime.fromtimestamp(int(millis) / 1000, zone).replace(tzinfo=None)


def bizdate_ms(day: date, zone: ZoneInfo) -> int:
    """A business date as DataWorks asks for it: 00:00 of it in the workspace's zone."""
    midnight = datetime.combine(day, datetime.min.time(), zone)
    return int(midnight.timestamp() * 1000)


def day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def parameters(text: str) -> dict[str, str]:
    """``ScriptParameters``: space-separated ``name=value`` pairs."""
    return dict(pair.split("=", 1) for pair in text.split() if "=" in pair)


def local_type(word: str) -> str:
    return TASK_TYPES.value(word, word.lower())


def rerun_mode(task: dict[str, Any]) -> str:
    """The task's rerun mode in our words ("" when DataWorks did not say)."""
    return RERUN_MODES.value(task.get("RerunMode", ""), "")


def retry_due(item: InstanceInfo, task: dict[str, Any]) -> bool:
    """Whether DataWorks will rerun the instance by itself (rerun times left, not Denied)."""
    return rerun_mode(task) != "Denied" and item.run_number < item.max_attempts


def counts(bizdate: date, items: list[InstanceInfo]) -> StatusCounts:
    found = dict.fromkeys(Status, 0)
    for item in items:
        found[item.status] += 1
    return StatusCounts(bizdate, found, sum(i.dry_run for i in items))


def instance(row: dict[str, Any], task: dict[str, Any], zone: ZoneInfo) -> InstanceInfo:
    """A 2024 task instance; ``task`` is its task (for the auto reruns allowed)."""
    recurrence = row.get("TriggerRecurrence", "Normal")
    status = STATUSES.values[row["Status"]]
    if status is Status.NOT_RUN and recurrence == "Pause":
        status = Status.FROZEN
    kind = KINDS.value(row.get("WorkflowInstanceType", "Normal"), InstanceKind.PERIODIC)
    return InstanceInfo(
        id=int(row["Id"]),
        node_id=int(row["TaskId"]),
        node=row["TaskName"],
        node_type=local_type(row.get("TaskType", "")),
        kind=kind,
        backfill_id=row.get("WorkflowInstanceId") if kind is InstanceKind.BACKFILL else None,
        bizdate=wall(row["Bizdate"], zone).date(),
        cyctime=wall(row["TriggerTime"], zone),
        cycle=int(row.get("PeriodNumber") or 1),
        status=status,
        dry_run=recurrence == "Skip",
        dry_run_reason="",
        run_number=int(row.get("RunNumber") or 0),
        max_attempts=int(task.get("RerunTimes") or 0) + 1,
        priority=int(row.get("Priority") or 1),
        resource_group=(row.get("RuntimeResource") or {}).get("ResourceGroupId", ""),
        owner=row.get("Owner", ""),
        set_success=False,
        started_at=moment(row.get("StartedTime")),
        finished_at=moment(row.get("FinishedTime")),
        retry_at=None,
    )


def instance_kind_2020(row: dict[str, Any]) -> InstanceKind:
    return DAG_TYPES.value(row.get("DagType", ""), InstanceKind.PERIODIC)


def instance_2020(
    row: dict[str, Any],
    task: dict[str, Any],
    zone: ZoneInfo,
    backfill_id: int | None,
    run_number: int | None,
) -> InstanceInfo:
    """A 2020 instance. A list row has no run number (None): a started instance ran once
    unless it only passed through (a dry run, a virtual node)."""
    status = STATUSES_2020.values[row["Status"]]
    task_type = row.get("TaskType", "NORMAL")
    if status is Status.NOT_RUN and task_type == "PAUSE":
        status = Status.FROZEN
    dry_run = task_type.startswith("SKIP")
    if run_number is None:
        passed = dry_run or task.get("Type") == "VIRTUAL"
        run_number = 1 if row.get("BeginRunningTime") and not passed else 0
    return InstanceInfo(
        id=int(row["InstanceId"]),
        node_id=int(row["NodeId"]),
        node=row["NodeName"],
        node_type=local_type(task.get("Type", "")),
        kind=instance_kind_2020(row),
        backfill_id=backfill_id,
        bizdate=wall(row["Bizdate"], zone).date(),
        cyctime=wall(row["CycTime"], zone),
        cycle=int(row.get("PeriodNumber") or 1),
        status=status,
        dry_run=dry_run,
        dry_run_reason="",
        run_number=run_number,
        max_attempts=run_number + int(row.get("TaskRerunTime") or 0),
        priority=int(row.get("Priority") or 1),
        resource_group=task.get("RuntimeResource", {}).get("ResourceGroupId", ""),
        owner=row.get("Owner", ""),
        set_success=False,
        started_at=moment(row.get("BeginRunningTime")),
        finished_at=moment(row.get("FinishTime")),
        retry_at=None,
    )


def task_of_2020(node: dict[str, Any]) -> dict[str, Any]:
    """A 2020 node in the 2024 task shape the rest of the backend reads."""
    repeat = node.get("RepeatMode")
    mode = REPEAT_MODES.value(int(repeat), "") if repeat not in (None, "") else ""
    return {
        "Id": int(node["NodeId"]),
        "Name": node["NodeName"],
        "Type": node.get("ProgramType", ""),
        "Owner": node.get("OwnerId", ""),
        "Description": node.get("Description", ""),
        "Priority": node.get("Priority") or 1,
        "RuntimeResource": {"ResourceGroupId": node.get("ResGroupIdentifier", "")},
        "Trigger": {
            "Type": MANUAL_TRIGGER if node.get("SchedulerType") == "MANUAL" else "Scheduler",
            "Cron": node.get("CronExpress", ""),
            "Recurrence": SCHEDULER_TYPES.value(node.get("SchedulerType", ""), "Normal"),
        },
        "RerunMode": RERUN_MODES.word(mode, ""),
        "RerunInterval": node.get("RepeatInterval") or 0,
        "ScriptParameters": node.get("ParamValues") or "",
        "BaselineId": node.get("BaselineId"),
        "ModifyTime": node.get("ModifyTime"),
    }


def node(task: dict[str, Any], names: dict[int, str] | None = None) -> NodeInfo:
    """A task summary (or its detail, with dependencies named via ``names``)."""
    trigger = task.get("Trigger") or {}
    cron = trigger.get("Cron", "")
    manual = trigger.get("Type") == MANUAL_TRIGGER  # never scheduled: it has no cron
    schedule = None if manual else parse_cron(cron)
    names = names or {}
    depends = task.get("Dependencies") or []
    upstreams = [
        names.get(int(d["UpstreamTaskId"]), str(d["UpstreamTaskId"]))
        for d in depends
        if d.get("Type") == "Normal"
    ]
    cross = [
        (d["Type"], names.get(int(d["UpstreamTaskId"]), "") if d.get("UpstreamTaskId") else "")
        for d in depends
        if d.get("Type") != "Normal"
    ]
    variables = (task.get("Inputs") or {}).get("Variables")
    values = (
        {v["Name"]: str(v.get("Value", "")) for v in variables}
        if variables is not None
        else parameters(task.get("ScriptParameters", ""))
    )
    timeout = int(task.get("Timeout") or 0)
    return NodeInfo(
        id=int(task["Id"]),
        name=task["Name"],
        type=local_type(task.get("Type", "")),
        owner=task.get("Owner", ""),
        description=task.get("Description", ""),
        priority=int(task.get("Priority") or 1),
        resource_group=(task.get("RuntimeResource") or {}).get("ResourceGroupId", ""),
        cron=cron,
        cycle_type=schedule.cycle_type.value if schedule else MANUAL_CYCLE,
        schedule=schedule.describe() if schedule else "manually triggered",
        start_date=day(trigger.get("StartTime")),
        end_date=day(trigger.get("EndTime")),
        recurrence=trigger.get("Recurrence", "Normal"),
        instance_mode=task.get("InstanceMode", ""),
        rerun_mode=RERUN_MODES.value(task.get("RerunMode", ""), task.get("RerunMode", "")),
        rerun_times=int(task.get("RerunTimes") or 0),
        rerun_interval=int(task.get("RerunInterval") or 0) // 1000,
        timeout=timeout // 60 if timeout else None,
        parameters=values,
        upstreams=tuple(upstreams),
        downstreams=(),
        cross_cycle=tuple(cross),
        code=(task.get("Script") or {}).get("Content", ""),
        code_file="",
        frozen=trigger.get("Recurrence") == "Pause",
        state="deployed",
        version=0,
        deployed_at=moment(task.get("ModifyTime")) or datetime.min,
        trigger=MANUAL_TRIGGER if manual else "Scheduler",
    )


def attempt(instance_id: int, number: int, row: dict[str, Any]) -> AttemptInfo:
    """One run of an instance (a 2020 ListInstanceHistory row)."""
    return AttemptInfo(
        instance_id=instance_id,
        number=number,
        status=STATUSES_2020.values[row["Status"]],
        triggered_by="",
        started_at=moment(row.get("BeginRunningTime")) or datetime.min,
        finished_at=moment(row.get("FinishTime")),
        exit_code=None,
        reason=row.get("ErrorMessage", ""),
        log_path="",
        pid=None,
    )


def _flag(value: Any) -> bool:
    """A 2020 boolean, which may come as a string ("true")."""
    return value is True or str(value).lower() == "true"


def baseline_definition(row: dict[str, Any], names: dict[int, str]) -> BaselineInfo:
    """A 2020 GetBaseline answer: the baseline as deployed; its ``NodeIds`` named by the
    workspace's tasks (an id no task has is shown as ``#id``)."""
    return BaselineInfo(
        id=int(row["BaselineId"]),
        name=row["BaselineName"],
        owner=row.get("Owner", ""),
        priority=int(row.get("Priority") or 1),
        type=str(row.get("BaselineType", "")).upper(),
        margin=int(row.get("AlertMarginThreshold") or 0),
        enabled=_flag(row.get("Enabled")),
        nodes=tuple(names.get(int(i), f"#{i}") for i in row.get("NodeIds") or ()),
        committed=tuple(
            str(s["Time"])
            for s in sorted(row.get("OverTimeSettings") or (), key=lambda s: int(s["Cycle"]))
        ),
    )


def baseline(row: dict[str, Any], config: dict[str, Any], zone: ZoneInfo) -> BaselineStatus:
    """A 2020 baseline status row; ``config`` its ListBaselines entry, when read."""
    finished = row.get("FinishStatus") == "FINISH"
    return BaselineStatus(
        name=row["BaselineName"],
        owner=row.get("Owner", ""),
        priority=int(row.get("Priority") or 1),
        type=str(config.get("BaselineType", "")).lower(),
        bizdate=wall(row["Bizdate"], zone).date(),
        cycle=int(row.get("InGroupId") or 1),
        status=BASELINE_STATUSES.value(row["Status"], row["Status"]),
        finished=finished,
        committed_at=moment(row["SlaTime"]) or datetime.min,
        alert_at=moment(row["ExpTime"]) or datetime.min,
        predicted_finish=moment(row.get("FinishTime") if finished else row.get("EndCast")),
        key_instance=None,
        protected=0,
        nodes=(),
    )


def event(topic: dict[str, Any], influence: dict[str, Any], zone: ZoneInfo) -> EventInfo:
    """A ListTopics topic, with its baseline and business date from GetTopicInfluence."""
    happened = moment(topic.get("HappenTime")) or datetime.min
    return EventInfo(
        id=int(topic["TopicId"]),
        baseline=influence.get("BaselineName", ""),
        bizdate=wall(influence["Bizdate"], zone).date()
        if influence.get("Bizdate") is not None
        else happened.date(),
        instance_id=int(topic["InstanceId"]),
        node=topic.get("NodeName", ""),
        kind=topic.get("TopicType", ""),
        status=topic.get("TopicStatus", ""),
        message=topic.get("TopicName", ""),
        created_at=happened,
        updated_at=moment(topic.get("FixTime")) or happened,
        updated_by="",
    )


def alert(row: dict[str, Any], zone: ZoneInfo) -> AlertInfo:
    """A ListAlertMessages row: one send, so the send count and resolution are not known."""
    instances, sla = row.get("Instances") or [], row.get("SlaAlert")
    if instances:
        target = f"instance:{instances[0]['InstanceId']}"
    elif sla:
        target = f"baseline:{sla['BaselineId']}:{wall(sla['Bizdate'], zone).date()}"
    else:
        target = ""
    sent = moment(row.get("AlertTime")) or datetime.min
    failed = row.get("AlertMessageStatus") == "SEND_FAIL"
    return AlertInfo(
        id=int(row["AlertId"]),
        rule=row.get("RemindName", ""),
        kind=row.get("Source", ""),
        target=target,
        message=row.get("Content", ""),
        first_at=sent,
        last_sent_at=None if failed else sent,
        sent_count=0 if failed else 1,
        last_error="sending failed" if failed else "",
        resolved_at=None,
    )
