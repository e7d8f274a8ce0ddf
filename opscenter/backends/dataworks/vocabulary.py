"""DataWorks' words and ours, once: the client reads wire words into domain values with these
tables and the emulator writes domain values as wire words with the same ones, so the two
sides cannot drift apart (spec 3.1-3.10; 2020-05-18 spellings where they differ)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from opscenter.domain.model import InstanceKind, Status

W = TypeVar("W")  # DataWorks' word (a string, or 2020's numbered codes)
D = TypeVar("D")  # our value


class Words(Generic[W, D]):
    """One concept both ways. ``also`` spells values that share another's word (FROZEN is
    NotRun on the wire); ``aliases`` are words DataWorks sends besides the usual one."""

    def __init__(
        self,
        pairs: Mapping[W, D],
        *,
        also: Mapping[D, W] | None = None,
        aliases: Mapping[W, D] | None = None,
    ) -> None:
        self.values: dict[W, D] = {**pairs, **(aliases or {})}
        self.words: dict[D, W] = {value: word for word, value in pairs.items()} | dict(also or {})

    def value(self, word: W, default: D) -> D:
        """Our value for a wire word, ``default`` for a word we do not know."""
        return self.values.get(word, default)

    def word(self, value: D, default: W) -> W:
        """The wire word for our value, ``default`` for a value DataWorks has no word for."""
        return self.words.get(value, default)


PERIODIC_WORKFLOW_ID = 1  # the workspace's periodic workflow, which backfills run under
PROD_2024, PROD_2020 = "Prod", "PROD"  # the production environment, as each version spells it

TASK_TYPES: Words[str, str] = Words(
    {
        "ODPS_SQL": "sql",
        "DIDE_SHELL": "shell",
        "PYTHON": "python",
        "VIRTUAL": "virtual",
        "DATA_QUALITY": "quality",
    }
)
STATUSES: Words[str, Status] = Words(  # 2024 task instance Status; FROZEN is NotRun + Pause
    {
        "NotRun": Status.NOT_RUN,
        "WaitTime": Status.WAIT_TIME,
        "WaitResource": Status.WAIT_RESOURCE,
        "Running": Status.RUNNING,
        "Failure": Status.FAILURE,
        "Success": Status.SUCCESS,
    },
    also={Status.FROZEN: "NotRun"},
)
STATUSES_2020: Words[str, Status] = Words(  # 2020 Status: our spelling; FROZEN is NOT_RUN + PAUSE
    {status.value: status for status in Status if status is not Status.FROZEN},
    also={Status.FROZEN: Status.NOT_RUN.value},
)
KINDS: Words[str, InstanceKind] = Words(  # 2024 WorkflowInstanceType, a workflow run's Type
    {
        "Normal": InstanceKind.PERIODIC,
        "SupplementData": InstanceKind.BACKFILL,
        "Manual": InstanceKind.MANUAL,
        "SmokeTest": InstanceKind.TEST,
    },
    aliases={"ManualWorkflow": InstanceKind.MANUAL, "ManualFlow": InstanceKind.MANUAL},
)
MANUAL_WORKFLOW = "ManualWorkflow"  # CreateWorkflowInstances' Type for a whole manual workflow
DAG_TYPES: Words[str, InstanceKind] = Words(  # 2020 DagType
    {
        "DAILY": InstanceKind.PERIODIC,
        "SUPPLY_DATA": InstanceKind.BACKFILL,
        "MANUAL_FLOW": InstanceKind.MANUAL,
        "SMOKE_TEST": InstanceKind.TEST,
    },
    aliases={"MANUAL": InstanceKind.MANUAL},
)
MANUAL_TRIGGER = "Manual"  # Trigger.Type (2024) of a manually triggered node or workflow
RERUN_MODES: Words[str, str] = Words(  # 2024 RerunMode; ours are FlowSpec's
    {"AllAllowed": "Allowed", "FailureAllowed": "FailureAllowed", "AllDenied": "Denied"}
)
REPEAT_MODES: Words[int, str] = Words(  # 2020 RepeatMode
    {0: "FailureAllowed", 1: "Allowed", 2: "Denied"}
)
SCHEDULER_TYPES: Words[str, str] = Words(  # 2020 SchedulerType / instance TaskType: recurrence
    {"NORMAL": "Normal", "PAUSE": "Pause", "SKIP": "Skip"}
)
NODE_RUN_MODES: Words[int, str] = Words(  # UpdateNodeRunMode's SchedulerType: recurrence
    {0: "Normal", 2: "Pause"}
)
BASELINE_STATUSES: Words[str, str] = Words(  # SAFE, ERROR and OVER are ours as they are
    {"DANGROUS": "WARNING"},  # DataWorks' docs and SDK spell a warning baseline so
    aliases={"DANGEROUS": "WARNING"},  # read too: the word as it would be spelt
)
BACKFILL_STATUSES: Words[str, str] = Words(  # 2024 workflow instance Status
    {"Running": "RUNNING", "Success": "SUCCESS", "Failure": "FAILURE"}
)
DAG_STATUSES: Words[str, str] = Words(  # 2020 DAG Status: a backfill date's
    {"CREATED": "WAITING", "RUNNING": "RUNNING", "FAILURE": "FAILURE", "SUCCESS": "SUCCESS"}
)
STEP_TYPES: Words[str, bool] = Words(  # 2020 GetNodeParents/Children StepType: cross-cycle?
    {"0": False, "3": True}
)
