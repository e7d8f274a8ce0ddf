"""Our records in DataWorks' field names, enumerations, ids and time formats (the words
themselves are the client's too: ..vocabulary)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opscenter.backends.dataworks.emulator.wire import invalid
from opscenter.backends.dataworks.vocabulary import (
    BACKFILL_STATUSES,
    BASELINE_STATUSES,
    DAG_STATUSES,
    DAG_TYPES,
    KINDS,
    MANUAL_TRIGGER,
    PERIODIC_WORKFLOW_ID,
    PROD_2024,
    REPEAT_MODES,
    RERUN_MODES,
    SCHEDULER_TYPES,
    STATUSES,
    STATUSES_2020,
    STEP_TYPES,
    TASK_TYPES,
)
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    BackfillInfo,
    BackfillRunInfo,
    BaselineStatus,
    InstanceInfo,
    NodeInfo,
)
from opscenter.domain.times import wall_to_store

STUDIO_ID_BASE = 7_000_000_000  # Data Studio node id = this + the task (node) id
DAG_ID_BASE = 100_000_000  # 2020 DAG id = backfill id * this + the business date as yyyymmdd
WORKFLOW_ID_BASE = 8_000_000_000  # a manual workflow's id = this + the CRC-32 of its name
STATUS_2024 = STATUSES.words  # every status's word; NotRun is both NOT_RUN and FROZEN
WORKFLOW_TYPES = KINDS.words


def ms(moment: datetime | None) -> int | None:
    """A naive UTC moment (the store's convention) as epoch milliseconds; None stays None."""
    return None if moment is None else epoch_ms(moment)


def epoch_ms(moment: datetime) -> int:
    """A naive UTC moment as epoch milliseconds."""
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def compact(values: dict[str, Any]) -> dict[str, Any]:
    """Absent values are left out, as the SDK models do."""
    return {key: value for key, value in values.items() if value is not None}


def studio_id(node_id: int) -> str:
    """The Data Studio node id of a task: a string, deliberately unlike the task id."""
    return str(STUDIO_ID_BASE + node_id)


def task_id_of(studio: str) -> int | None:
    """The task (node) id behind a Data Studio node id, or None if it is not one of ours."""
    if not studio.isdigit() or int(studio) <= STUDIO_ID_BASE:
        return None
    return int(studio) - STUDIO_ID_BASE


def dag_id(backfill_id: int, bizdate: date) -> int:
    """The 2020 DAG of one business date of a backfill: 3 and 2025-03-14 -> 320250314."""
    return backfill_id * DAG_ID_BASE + int(bizdate.strftime("%Y%m%d"))


def workflow_id(name: str) -> int:
    """A manual workflow's id, from its name (the local world gives workflows no id)."""
    return WORKFLOW_ID_BASE + zlib.crc32(name.encode())


def dag_parts(dag: int) -> tuple[int, date]:
    """(backfill id, business date) of a DAG id; ValueError if it cannot be one."""
    backfill_id, day = divmod(dag, DAG_ID_BASE)
    if backfill_id < 1:
        raise ValueError(f"{dag} is not a backfill DAG id")
    try:
        return backfill_id, datetime.strptime(f"{day:08d}", "%Y%m%d").date()
    except ValueError:
        raise ValueError(f"{dag} is not a backfill DAG id") from None


class Mapper:
    """Our records in DataWorks' field names, enumerations and time formats."""

    def __init__(self, backend: LocalBackend) -> None:
        self.zone = ZoneInfo(backend.workspace().timezone)
        self.project_id = backend.workspace_id
        self._runs: dict[int, int] = {}  # test or manual instance id -> its run's id

    def record_run(self, instance_ids: Sequence[int]) -> int:
        """A test or manual run made here: its id (the workflow instance id in 2024, the
        DagId in 2020) is its lowest instance id."""
        run = min(instance_ids)
        self._runs.update(dict.fromkeys(instance_ids, run))
        return run

    def run_of(self, item: InstanceInfo) -> int | None:
        """The run a test or manual instance belongs to: its own id if it was not made
        here (by the console on the store, or before a restart)."""
        if item.kind not in (InstanceKind.TEST, InstanceKind.MANUAL):
            return None
        return self._runs.get(item.id, item.id)

    def run_members(self, run: int) -> list[int]:
        """The instance ids of a run made here; just ``run`` for any other id."""
        return sorted(i for i, r in self._runs.items() if r == run) or [run]

    def wall_ms(self, wall: datetime) -> int:
        """A naive wall-clock time of the workspace (a cyctime) as epoch milliseconds."""
        return epoch_ms(wall_to_store(wall, self.zone))

    def bizdate_ms(self, day: date) -> int:
        return self.wall_ms(datetime.combine(day, datetime.min.time()))

    def bizdate_of(self, millis: int) -> date:
        try:
            return datetime.fromtimestamp(millis / 1000, self.zone).date()
        except (OverflowError, OSError, ValueError):
            raise invalid("Bizdate", f"{millis} is not a moment in epoch milliseconds") from None

    def task_instance(self, item: InstanceInfo) -> dict[str, Any]:
        recurrence = instance_recurrence(item)
        return compact(
            {
                "Id": item.id,
                "TaskId": item.node_id,
                "TaskName": item.node,
                "TaskType": task_type(item.node_type),
                "Status": STATUS_2024[item.status],
                "Bizdate": self.bizdate_ms(item.bizdate),
                "TriggerTime": self.wall_ms(item.cyctime),
                "TriggerType": "Manual" if item.kind is InstanceKind.MANUAL else "Scheduler",
                "TriggerRecurrence": recurrence,
                "StartedTime": ms(item.started_at),
                "FinishedTime": ms(item.finished_at),
                "RunNumber": item.run_number,
                "PeriodNumber": item.cycle,
                "Owner": item.owner,
                "Priority": item.priority,
                "WorkflowId": None if item.kind is InstanceKind.MANUAL else PERIODIC_WORKFLOW_ID,
                "WorkflowInstanceId": item.backfill_id or self.run_of(item),
                "WorkflowInstanceType": WORKFLOW_TYPES[item.kind],
                "ProjectId": self.project_id,
                "ProjectEnv": PROD_2024,
                "RuntimeResource": {"ResourceGroupId": item.resource_group},
            }
        )

    def task(self, node: NodeInfo) -> dict[str, Any]:
        return {
            "Id": node.id,
            "Name": node.name,
            "Type": task_type(node.type),
            "Owner": node.owner,
            "Description": node.description,
            "ProjectId": self.project_id,
            "ProjectEnv": PROD_2024,
            "WorkflowId": workflow_id(node.workflow) if node.workflow else PERIODIC_WORKFLOW_ID,
            "Priority": node.priority,
            "InstanceMode": node.instance_mode,
            "RerunMode": RERUN_MODES.word(node.rerun_mode, node.rerun_mode),
            "RerunTimes": node.rerun_times,
            "RerunInterval": node.rerun_interval * 1000,
            "Timeout": node.timeout * 60 if node.timeout else 0,
            "Trigger": compact(
                {
                    "Type": node.trigger,
                    "Cron": node.cron,
                    "Recurrence": node_recurrence(node),
                    "StartTime": day_text(node.start_date),
                    "EndTime": day_text(node.end_date),
                }
            ),
            "RuntimeResource": {"ResourceGroupId": node.resource_group},
            "ScriptParameters": parameter_text(node.parameters),
            "CreateTime": ms(node.deployed_at),
            "ModifyTime": ms(node.deployed_at),
        }

    def task_detail(self, node: NodeInfo, ids: Mapping[str, int]) -> dict[str, Any]:
        # UpstreamTaskId is a string in GetTask (the SDK's model), unlike Task.Id elsewhere
        upstreams = [{"Type": "Normal", "UpstreamTaskId": str(ids[n])} for n in node.upstreams]
        cross = [
            compact({"Type": kind, "UpstreamTaskId": _text(ids.get(name))})
            for kind, name in node.cross_cycle
        ]
        return {
            **self.task(node),
            "Dependencies": upstreams + cross,
            "Inputs": {"Variables": variables(node)},
            "Outputs": {"TaskOutputs": [{"Output": f"{node.name}.output"}]},
            "Script": {"Content": node.code, "Parameters": parameter_text(node.parameters)},
            "Tags": [],
        }

    def instance_2020(self, item: InstanceInfo) -> dict[str, Any]:
        recurrence = instance_recurrence(item)
        return compact(
            {
                "InstanceId": item.id,
                "NodeId": item.node_id,
                "NodeName": item.node,
                "Status": STATUSES_2020.words[item.status],
                "TaskType": SCHEDULER_TYPES.word(recurrence, recurrence.upper()),
                "Bizdate": self.bizdate_ms(item.bizdate),
                "CycTime": self.wall_ms(item.cyctime),
                "BeginRunningTime": ms(item.started_at),
                "FinishTime": ms(item.finished_at),
                "Owner": item.owner,
                "PeriodNumber": item.cycle,
                "Priority": item.priority,
                "DagType": DAG_TYPES.words[item.kind],
                "DagId": dag_id(item.backfill_id, item.bizdate)
                if item.backfill_id
                else self.run_of(item),
                "TaskRerunTime": max(0, item.max_attempts - item.run_number),
            }
        )

    def workflow_instance(self, backfill: BackfillInfo) -> dict[str, Any]:
        first = min((r.bizdate for r in backfill.runs), default=None)
        return compact(
            {
                "Id": backfill.id,
                "Name": backfill.name,
                "Type": "SupplementData",
                "Status": BACKFILL_STATUSES.word(backfill.status, backfill.status.title()),
                "BizDate": self.bizdate_ms(first) if first else None,
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "Owner": backfill.created_by,
                "CreateTime": ms(backfill.created_at),
                "ProjectId": self.project_id,
                "EnvType": PROD_2024,
            }
        )

    def studio_node(self, node: NodeInfo) -> dict[str, Any]:
        """A 2024 Data Studio node: the development object behind the task ``TaskId``."""
        return {
            "Id": studio_id(node.id),
            "TaskId": node.id,
            "Name": node.name,
            "Owner": node.owner,
            "Description": node.description,
            "ProjectId": self.project_id,
            "Recurrence": node_recurrence(node),
            "Trigger": compact(
                {
                    "Type": node.trigger,
                    "Cron": node.cron,
                    "StartTime": day_text(node.start_date),
                    "EndTime": day_text(node.end_date),
                    "Timezone": self.zone.key,
                }
            ),
            "Strategy": {
                "InstanceMode": node.instance_mode,
                "RerunMode": node.rerun_mode,
                "RerunTimes": node.rerun_times,
                "RerunInterval": node.rerun_interval * 1000,
                "Timeout": node.timeout * 60 if node.timeout else 0,
            },
            "Script": {
                "Path": node.code_file or node.name,
                "Runtime": {"Command": task_type(node.type)},
            },
            "RuntimeResource": {"ResourceGroupId": node.resource_group},
            "Inputs": {"Variables": variables(node)},
            "Outputs": {"NodeOutputs": [{"Data": f"{node.name}.output"}]},
            "Tags": [],
            "CreateTime": ms(node.deployed_at),
            "ModifyTime": ms(node.deployed_at),
        }

    def node_2020(self, node: NodeInfo, baseline_id: int | None) -> dict[str, Any]:
        """A 2020 deployed node (spec 4.1)."""
        return compact(
            {
                "NodeId": node.id,
                "NodeName": node.name,
                "OwnerId": node.owner,
                "ProjectId": self.project_id,
                "Description": node.description,
                "ProgramType": task_type(node.type),
                "CronExpress": node.cron,
                "SchedulerType": scheduler_type(node),
                "Priority": node.priority,
                "BaselineId": baseline_id,
                "ParamValues": parameter_text(node.parameters),
                "Repeatability": node.rerun_mode != "Denied",
                "RepeatMode": REPEAT_MODES.words.get(node.rerun_mode),
                "RepeatInterval": node.rerun_interval * 1000,
                "ResGroupIdentifier": node.resource_group,
                "CreateTime": ms(node.deployed_at),
                "ModifyTime": ms(node.deployed_at),
                "DeployDate": ms(node.deployed_at),
            }
        )

    def relative_2020(self, node: NodeInfo, baseline_id: int | None, cross: bool) -> dict[str, Any]:
        """A GetNodeParents/GetNodeChildren entry: StepType "0" same cycle, "3" cross-cycle."""
        return compact(
            {
                "NodeId": node.id,
                "NodeName": node.name,
                "OwnerId": node.owner,
                "ProgramType": task_type(node.type),
                "CronExpress": node.cron,
                "SchedulerType": scheduler_type(node),
                "BaselineId": baseline_id,
                "StepType": STEP_TYPES.words[cross],
            }
        )

    def dag(
        self,
        backfill: BackfillInfo,
        run: BackfillRunInfo,
        started: datetime | None,
        finished: datetime | None,
    ) -> dict[str, Any]:
        """One business date of a backfill as a 2020 SUPPLY_DATA DAG."""
        return compact(
            {
                "DagId": dag_id(backfill.id, run.bizdate),
                "Name": backfill.name,
                "Type": "SUPPLY_DATA",
                "Status": DAG_STATUSES.word(run.status, run.status),
                "Bizdate": self.bizdate_ms(run.bizdate),
                "Gmtdate": self.bizdate_ms(run.bizdate + timedelta(days=1)),
                "OpSeq": backfill.id,
                "ProjectId": self.project_id,
                "CreateUser": backfill.created_by,
                "CreateTime": ms(backfill.created_at),
                "StartTime": ms(started),
                "FinishTime": ms(finished),
            }
        )

    def baseline_status(self, item: BaselineStatus, baseline_id: int) -> dict[str, Any]:
        return compact(
            {
                "BaselineId": baseline_id,
                "BaselineName": item.name,
                "Bizdate": self.bizdate_ms(item.bizdate),
                "InGroupId": item.cycle,
                "Owner": item.owner,
                "Priority": item.priority,
                "Status": BASELINE_STATUSES.word(item.status, item.status),
                "FinishStatus": "FINISH" if item.finished else "UNFINISH",
                "FinishTime": ms(item.predicted_finish) if item.finished else None,
                "SlaTime": ms(item.committed_at),
                "ExpTime": ms(item.alert_at),
                "EndCast": ms(item.predicted_finish),
                "Buffer": buffer(item),
            }
        )


def instance_recurrence(item: InstanceInfo) -> str:
    """How DataWorks shows a frozen (Pause) or dry-run (Skip) instance."""
    if item.status is Status.FROZEN:
        return "Pause"
    return "Skip" if item.dry_run else "Normal"


def task_type(local: str) -> str:
    return TASK_TYPES.word(local, local.upper())


def node_recurrence(node: NodeInfo) -> str:
    """A frozen node shows Pause whatever its deployed run mode."""
    return "Pause" if node.frozen else node.recurrence


def scheduler_type(node: NodeInfo) -> str:
    """The 2020 name of the node's run mode: MANUAL (manually triggered), else NORMAL,
    PAUSE (frozen) or SKIP (dry-run)."""
    if node.trigger == MANUAL_TRIGGER:
        return "MANUAL"
    return SCHEDULER_TYPES.word(node_recurrence(node), "NORMAL")


def variables(node: NodeInfo) -> list[dict[str, str]]:
    return [{"Name": k, "Type": "Constant", "Value": v} for k, v in node.parameters.items()]


def day_text(day: date | None) -> str | None:
    return f"{day.isoformat()} 00:00:00" if day else None


def parameter_text(parameters: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in parameters.items())


def buffer(item: BaselineStatus) -> int | None:
    if item.predicted_finish is None:
        return None
    return int((item.committed_at - item.predicted_finish).total_seconds())


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def paged(items: list, number: int, size: int, key: str) -> dict[str, Any]:
    start = (number - 1) * size
    return {
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(items),
        key: items[start : start + size],
    }
