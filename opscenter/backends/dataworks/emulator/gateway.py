"""A local DataWorks OpenAPI: the embedded engine and store served over the real wire format.

The console's dataworks backend (and the official SDKs) talk to it exactly as to
``dataworks.<region>.aliyuncs.com`` (spec 2 and the checklist of spec 7): RPC style on
``/``, the action and version from ``x-acs-action``/``x-acs-version`` or the
``Action``/``Version`` parameters, query and form body merged, JSON fields decoded,
ACS3-HMAC-SHA256 signatures verified (V2 HMAC-SHA1 when a ``Signature`` parameter is
present), clock skew over 15 minutes and reused nonces refused, and every answer -
success or error - carrying a ``RequestId``. Errors use the gateway's shape (spec 2.6);
an unexpected exception becomes ``InternalError.System`` with its traceback logged here
only. Behind it sits one LocalBackend, so every action is checked and audited there
(source ``emulator``).

Mapping decisions where the local world and DataWorks differ:

- Ids: ``ProjectId`` is the workspace's store id; ``Task.Id``/``NodeId`` the node id;
  ``TaskInstance.Id``/``InstanceId`` the instance id (also the 2020 ``InstanceHistoryId``
  is the attempt number, since attempts have no id of their own).
- A frozen instance (local ``FROZEN``) is ``Status`` ``NotRun``/``NOT_RUN`` with
  ``TriggerRecurrence`` ``Pause`` (2020: ``TaskType`` ``PAUSE``), as DataWorks shows a
  suspended instance; a dry-run one is ``Success`` with ``Skip`` (2020 ``SKIP``).
  A status filter ``NotRun`` therefore matches frozen instances too.
- ``TaskType`` uses DataWorks' codes (``TASK_TYPES``); an unknown local type is upper-cased.
- Times: 2024 answers in epoch milliseconds; ``Bizdate`` is 00:00 of the business date in
  the workspace's zone. 2020 instance times are milliseconds too, baseline business dates
  UTC ISO strings. A 2020 baseline ``Bizdate`` of ``yyyy-MM-ddT00:00:00Z`` is read as that
  date; any other instant as its date in the workspace's zone.
- A backfill is one workflow instance (``Type`` ``SupplementData``, ``WorkflowId`` 1)
  covering all its business dates; ``CreateWorkflowInstances`` runs synchronously and its
  operation is ``Created`` (or ``CreateFailure``) when first polled. Several date ranges
  make one backfill each. Modes ``General`` and ``AllDownstream`` are supported (one root).
- ``ListTaskInstances`` needs ``Bizdate`` unless it is narrowed to ids or a workflow
  instance (a backfill spans dates; the real API would need one call per date).
- Fields the local world lacks are left out rather than invented (instance ``CreateTime``,
  ``WorkflowName``, ``Runtime``); ``ProjectEnv`` is always ``Prod``.
- A refused action (ActionRefused) is HTTP 400 ``OperationDenied`` with the refusal as the
  message; in the batch operations it is the id's ``SuccessInfo`` entry instead.
- ``UpdateTask``/``BatchUpdateTasks`` change only ``Trigger.Recurrence`` (Pause freezes the
  node, Normal unfreezes it); any other field is ``InvalidParameter``.
- Baseline events are 2020 topics (``TopicId`` the event id, ``TopicName`` its message);
  ``GetTopicInfluence`` names the one baseline run the event belongs to. A fired alert is
  one ``ListAlertMessages`` entry (``AlertId`` the alert id as a string, ``RemindName`` its
  rule, ``AlertTime`` its last send or first firing, ``Source`` ``REMIND_ALERT``); its
  send count and resolution have no field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import signal
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from opscenter.backends.dataworks import signer
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillInfo,
    BackfillRequest,
    BaselineStatus,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
    NodeInfo,
)
from opscenter.domain.times import wall_to_store
from opscenter.store.models import AlertRow, BaselineInstanceRow, BaselineRow, EventRow

log = logging.getLogger(__name__)

V2024 = "2024-05-18"
V2020 = "2020-05-18"
MAX_SKEW = timedelta(minutes=15)
MAX_BODY = 1 << 20
ENV_KEY_ID = "OPSCENTER_EMULATOR_ACCESS_KEY_ID"
ENV_KEY_SECRET = "OPSCENTER_EMULATOR_ACCESS_KEY_SECRET"
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
FORM = "application/x-www-form-urlencoded"
PERIODIC_WORKFLOW_ID = 1
TASK_TYPES = {
    "sql": "ODPS_SQL",
    "shell": "DIDE_SHELL",
    "python": "PYTHON",
    "virtual": "VIRTUAL",
    "quality": "DATA_QUALITY",
}
STATUS_2024 = {
    Status.NOT_RUN: "NotRun",
    Status.WAIT_TIME: "WaitTime",
    Status.WAIT_RESOURCE: "WaitResource",
    Status.RUNNING: "Running",
    Status.FAILURE: "Failure",
    Status.SUCCESS: "Success",
    Status.FROZEN: "NotRun",
}
RERUN_MODES = {"Allowed": "AllAllowed", "FailureAllowed": "FailureAllowed", "Denied": "AllDenied"}
WORKFLOW_TYPES = {
    InstanceKind.PERIODIC: "Normal",
    InstanceKind.BACKFILL: "SupplementData",
    InstanceKind.MANUAL: "Manual",
}
BACKFILL_STATUS = {"RUNNING": "Running", "SUCCESS": "Success", "FAILURE": "Failure"}
UNFINISHED = (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE, Status.RUNNING)


class ApiFailure(Exception):
    """An answer in the gateway's error shape: HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status
        self.code = code
        self.message = message


def missing(name: str) -> ApiFailure:
    return ApiFailure(400, "MissingParameter", f"The input parameter {name!r} is required.")


def invalid(name: str, why: str) -> ApiFailure:
    return ApiFailure(400, "InvalidParameter", f"The parameter {name!r} is invalid: {why}.")


class Params:
    """The merged query and form parameters, read with the types each operation expects."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return default
        return value

    def int(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        value = self.text(name, required=required)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not an integer") from None

    def bool(self, name: str, default: bool = False) -> bool:
        """The SDKs send ``True``/``False``, hand-written clients ``true``/``false``."""
        value = self.text(name).lower()
        if not value:
            return default
        if value not in ("true", "false"):
            raise invalid(name, f"{value!r} is not a boolean")
        return value == "true"

    def json(self, name: str, *, required: bool = False, default: Any = None) -> Any:
        value = self.text(name, required=required)
        if not value:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise invalid(name, "it is not valid JSON") from None

    def ids(self, name: str, *, required: bool = False) -> list[int]:
        """A JSON array of integer ids (the 2024 batch operations' ``Ids``)."""
        value = self.json(name, required=required, default=[])
        if not isinstance(value, list) or not all(_is_id(v) for v in value):
            raise invalid(name, "expected a JSON array of integer ids")
        if required and not value:
            raise missing(name)
        return [int(v) for v in value]

    def paging(self, default_size: int = 10, max_size: int = 100) -> tuple[int, int]:
        number = self.int("PageNumber", default=1) or 1
        size = self.int("PageSize", default=default_size) or default_size
        if number < 1:
            raise invalid("PageNumber", "it must be 1 or more")
        if not 1 <= size <= max_size:
            raise invalid("PageSize", f"it must be between 1 and {max_size}")
        return number, size


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isdigit()
    )


# -- authentication --------------------------------------------------------------------------


@dataclass
class Incoming:
    """One request as received: what the verifier and the operations read."""

    method: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # lower-cased names; repeated headers joined by ","
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


def _percent(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


@dataclass
class Verifier:
    """Checks V3 (or V2) signatures against known access keys; remembers nonces."""

    credentials: Mapping[str, str]  # access key id -> secret
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    _nonces: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, request: Incoming) -> None:
        if "Signature" in request.params:
            self._verify_v2(request)
        else:
            self._verify_v3(request)

    def _verify_v3(self, request: Incoming) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise ApiFailure(
                400, "MissingParameter", "The Authorization header (or a V2 Signature) is required."
            )
        try:
            key_id, signed_names, given = signer.parse_authorization(header)
        except ValueError as exc:
            raise ApiFailure(400, "InvalidParameter", f"Authorization: {exc}.") from None
        secret = self._secret(key_id)
        self._check_signed_headers(request, signed_names)
        if request.headers["x-acs-content-sha256"] != signer.hashed_payload(request.body):
            raise ApiFailure(
                400, "SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body."
            )
        signed = {name: request.headers[name] for name in signed_names}
        canonical = signer.canonical_request(
            request.method, "/", request.query, signed, request.body
        )
        to_sign = signer.string_to_sign(canonical)
        if not hmac.compare_digest(signer.signature(secret, to_sign), given.lower()):
            raise _mismatch(to_sign)
        self._check_fresh(request.headers["x-acs-date"], "x-acs-date")
        self._use_nonce(request.headers["x-acs-signature-nonce"])

    @staticmethod
    def _check_signed_headers(request: Incoming, signed_names: list[str]) -> None:
        """host, date, nonce and body hash must be signed, and so must every x-acs-* sent."""
        required = {"host", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}
        sent_acs = {name for name in request.headers if name.startswith("x-acs-")}
        for name in sorted(required | sent_acs):
            if name not in request.headers:
                raise ApiFailure(400, "MissingParameter", f"The header {name!r} is required.")
            if name not in signed_names:
                raise ApiFailure(
                    400, "SignatureDoesNotMatch", f"The header {name!r} must be signed."
                )
        for name in signed_names:
            if name not in request.headers:
                raise ApiFailure(
                    400, "SignatureDoesNotMatch", f"The signed header {name!r} was not sent."
                )

    def _verify_v2(self, request: Incoming) -> None:
        params = request.params
        for name in ("AccessKeyId", "Timestamp", "SignatureNonce", "SignatureMethod"):
            if not params.get(name):
                raise missing(name)
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise invalid("SignatureMethod", "only HMAC-SHA1 is supported")
        secret = self._secret(params["AccessKeyId"])
        pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
        canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in pairs)
        to_sign = f"{request.method}&{_percent('/')}&{_percent(canonical)}"
        digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), params["Signature"]):
            raise _mismatch(to_sign)
        self._check_fresh(params["Timestamp"], "Timestamp")
        self._use_nonce(params["SignatureNonce"])

    def _secret(self, key_id: str) -> str:
        secret = self.credentials.get(key_id)
        if secret is None:
            raise ApiFailure(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        return secret

    def _check_fresh(self, stamp: str, name: str) -> None:
        try:
            when = datetime.strptime(stamp, ISO_UTC).replace(tzinfo=UTC)
        except ValueError:
            raise ApiFailure(
                400, "InvalidTimeStamp.Format", f"{name} must be yyyy-MM-ddTHH:mm:ssZ (UTC)."
            ) from None
        if abs(self.wall() - when) > MAX_SKEW:
            raise ApiFailure(
                400,
                "InvalidTimeStamp.Expired",
                f"Specified time stamp or date value is expired: {stamp} is more than "
                "15 minutes from the server's time.",
            )

    def _use_nonce(self, nonce: str) -> None:
        """A nonce is kept as long as a request carrying it could still be fresh."""
        now = self.wall()
        with self._lock:
            for old in [n for n, seen in self._nonces.items() if now - seen > 2 * MAX_SKEW]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise ApiFailure(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[nonce] = now


def _mismatch(to_sign: str) -> ApiFailure:
    return ApiFailure(
        400,
        "SignatureDoesNotMatch",
        "Specified signature does not match our calculation. "
        f"The server string to sign is: {to_sign!r}",
    )


# -- mapping ---------------------------------------------------------------------------------


def _ms(moment: datetime | None) -> int | None:
    """A naive UTC moment (the store's convention) as epoch milliseconds."""
    if moment is None:
        return None
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """Absent values are left out, as the SDK models do."""
    return {key: value for key, value in values.items() if value is not None}


class Mapper:
    """Our records in DataWorks' field names, enumerations and time formats."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.zone = ZoneInfo(backend.workspace().timezone)
        self.project_id = backend.workspace_id

    def wall_ms(self, wall: datetime) -> int:
        """A naive wall-clock time of the workspace (a cyctime) as epoch milliseconds."""
        return _ms(wall_to_store(wall, self.zone))  # type: ignore[return-value]

    def bizdate_ms(self, day: date) -> int:
        return self.wall_ms(datetime.combine(day, datetime.min.time()))

    def bizdate_of(self, millis: int) -> date:
        return datetime.fromtimestamp(millis / 1000, self.zone).date()

    def task_instance(self, item: InstanceInfo) -> dict[str, Any]:
        recurrence = "Skip" if item.dry_run else "Normal"
        if item.status is Status.FROZEN:
            recurrence = "Pause"
        return _compact(
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
                "StartedTime": _ms(item.started_at),
                "FinishedTime": _ms(item.finished_at),
                "RunNumber": item.run_number,
                "PeriodNumber": item.cycle,
                "Owner": item.owner,
                "Priority": item.priority,
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "WorkflowInstanceId": item.backfill_id,
                "WorkflowInstanceType": WORKFLOW_TYPES[item.kind],
                "ProjectId": self.project_id,
                "ProjectEnv": "Prod",
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
            "ProjectEnv": "Prod",
            "WorkflowId": PERIODIC_WORKFLOW_ID,
            "Priority": node.priority,
            "InstanceMode": node.instance_mode,
            "RerunMode": RERUN_MODES.get(node.rerun_mode, node.rerun_mode),
            "RerunTimes": node.rerun_times,
            "RerunInterval": node.rerun_interval * 1000,
            "Timeout": node.timeout * 60 if node.timeout else 0,
            "Trigger": _compact(
                {
                    "Type": "Scheduler",
                    "Cron": node.cron,
                    "Recurrence": "Pause" if node.frozen else node.recurrence,
                    "StartTime": _day_text(node.start_date),
                    "EndTime": _day_text(node.end_date),
                }
            ),
            "RuntimeResource": {"ResourceGroupId": node.resource_group},
            "ScriptParameters": _parameter_text(node.parameters),
            "CreateTime": _ms(node.deployed_at),
            "ModifyTime": _ms(node.deployed_at),
        }

    def task_detail(self, node: NodeInfo, ids: Mapping[str, int]) -> dict[str, Any]:
        upstreams = [{"Type": "Normal", "UpstreamTaskId": ids[n]} for n in node.upstreams]
        cross = [
            _compact({"Type": kind, "UpstreamTaskId": ids.get(name)})
            for kind, name in node.cross_cycle
        ]
        variables = [
            {"Name": k, "Type": "Constant", "Value": v} for k, v in node.parameters.items()
        ]
        return {
            **self.task(node),
            "Dependencies": upstreams + cross,
            "Inputs": {"Variables": variables},
            "Outputs": {"TaskOutputs": [{"Output": f"{node.name}.output"}]},
            "Script": {"Content": node.code, "Parameters": _parameter_text(node.parameters)},
            "Tags": [],
        }

    def instance_2020(self, item: InstanceInfo) -> dict[str, Any]:
        task_type_2020 = "SKIP" if item.dry_run else "NORMAL"
        if item.status is Status.FROZEN:
            task_type_2020 = "PAUSE"
        return _compact(
            {
                "InstanceId": item.id,
                "NodeId": item.node_id,
                "NodeName": item.node,
                "Status": Status.NOT_RUN.value
                if item.status is Status.FROZEN
                else item.status.value,
                "TaskType": task_type_2020,
                "Bizdate": self.bizdate_ms(item.bizdate),
                "CycTime": self.wall_ms(item.cyctime),
                "BeginRunningTime": _ms(item.started_at),
                "FinishTime": _ms(item.finished_at),
                "Owner": item.owner,
                "PeriodNumber": item.cycle,
                "Priority": item.priority,
                "DagType": "SUPPLY_DATA" if item.kind is InstanceKind.BACKFILL else "DAILY",
                "DagId": item.backfill_id,
                "TaskRerunTime": max(0, item.max_attempts - item.run_number),
            }
        )

    def workflow_instance(self, backfill: BackfillInfo) -> dict[str, Any]:
        first = min((r.bizdate for r in backfill.runs), default=None)
        return _compact(
            {
                "Id": backfill.id,
                "Name": backfill.name,
                "Type": "SupplementData",
                "Status": BACKFILL_STATUS.get(backfill.status, backfill.status.title()),
                "BizDate": self.bizdate_ms(first) if first else None,
                "WorkflowId": PERIODIC_WORKFLOW_ID,
                "Owner": backfill.created_by,
                "CreateTime": _ms(backfill.created_at),
                "ProjectId": self.project_id,
                "EnvType": "Prod",
            }
        )

    def baseline_status(self, item: BaselineStatus, baseline_id: int) -> dict[str, Any]:
        return _compact(
            {
                "BaselineId": baseline_id,
                "BaselineName": item.name,
                "Bizdate": self.bizdate_ms(item.bizdate),
                "InGroupId": item.cycle,
                "Owner": item.owner,
                "Priority": item.priority,
                "Status": "DANGEROUS" if item.status == "WARNING" else item.status,
                "FinishStatus": "FINISH" if item.finished else "UNFINISH",
                "FinishTime": _ms(item.predicted_finish) if item.finished else None,
                "SlaTime": _ms(item.committed_at),
                "ExpTime": _ms(item.alert_at),
                "EndCast": _ms(item.predicted_finish),
                "Buffer": _buffer(item),
            }
        )


def task_type(local: str) -> str:
    return TASK_TYPES.get(local, local.upper())


def _day_text(day: date | None) -> str | None:
    return f"{day.isoformat()} 00:00:00" if day else None


def _parameter_text(parameters: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in parameters.items())


def _buffer(item: BaselineStatus) -> int | None:
    if item.predicted_finish is None:
        return None
    return int((item.committed_at - item.predicted_finish).total_seconds())


def _page(items: list, number: int, size: int, key: str) -> dict[str, Any]:
    start = (number - 1) * size
    return {
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": len(items),
        key: items[start : start + size],
    }


# -- operations ------------------------------------------------------------------------------

Operation = Callable[[Params], dict[str, Any]]


class Operations:
    """The 2024-05-18 and 2020-05-18 operations, over one LocalBackend."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.map = Mapper(backend)
        self._operations: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.table: dict[tuple[str, str], Operation] = {
            **{(V2024, name): getattr(self, name) for name in self.ACTIONS_2024},
            **{(V2020, name): getattr(self, f"legacy_{name}") for name in self.ACTIONS_2020},
        }

    ACTIONS_2024 = (
        "ListTasks",
        "GetTask",
        "ListUpstreamTasks",
        "ListDownstreamTasks",
        "UpdateTask",
        "BatchUpdateTasks",
        "ListTaskInstances",
        "GetTaskInstance",
        "GetTaskInstanceLog",
        "ListUpstreamTaskInstances",
        "ListDownstreamTaskInstances",
        "RerunTaskInstances",
        "SetSuccessTaskInstances",
        "StopTaskInstances",
        "SuspendTaskInstances",
        "ResumeTaskInstances",
        "CreateWorkflowInstances",
        "GetCreateWorkflowInstancesResult",
        "ListWorkflowInstances",
        "GetWorkflowInstance",
        "StopWorkflowInstances",
    )
    ACTIONS_2020 = (
        "ListInstances",
        "GetInstance",
        "GetInstanceLog",
        "ListInstanceHistory",
        "RestartInstance",
        "SetSuccessInstance",
        "StopInstance",
        "SuspendInstance",
        "ResumeInstance",
        "UpdateNodeRunMode",
        "GetInstanceStatusCount",
        "TopTenErrorTimesInstance",
        "ListBaselines",
        "ListBaselineStatuses",
        "GetBaselineStatus",
        "GetBaselineKeyPath",
        "ListTopics",
        "GetTopicInfluence",
        "ListAlertMessages",
    )

    # -- tasks (2024) -------------------------------------------------------------------------

    def _nodes(self) -> list[NodeInfo]:
        return self.backend.list_nodes(NodeFilter())

    def _node(self, node_id: int) -> NodeInfo:
        for node in self._nodes():
            if node.id == node_id:
                return node
        raise ApiFailure(400, "InvalidParameter", f"No deployed task with id {node_id}.")

    def _project(self, params: Params) -> None:
        project = params.int("ProjectId", required=True)
        if project != self.map.project_id:
            raise ApiFailure(
                403, "Forbidden.Access", f"No access to project {project}: it is not served here."
            )

    def ListTasks(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        name, owner, kind = params.text("Name"), params.text("Owner"), params.text("TaskType")
        recurrence, ids = params.text("TriggerRecurrence"), params.ids("Ids")
        tasks = [
            self.map.task(n)
            for n in self._nodes()
            if (not name or name.lower() in n.name.lower())
            and (not owner or n.owner == owner)
            and (not ids or n.id in ids)
        ]
        tasks = [
            t
            for t in tasks
            if (not kind or t["Type"] == kind)
            and (not recurrence or t["Trigger"]["Recurrence"] == recurrence)
        ]
        tasks = _sorted(tasks, params.text("SortBy", default="Id Desc"), "SortBy")
        return {"PagingInfo": _page(tasks, number, size, "Tasks")}

    def GetTask(self, params: Params) -> dict[str, Any]:
        node = self._node(params.int("Id", required=True))  # type: ignore[arg-type]
        ids = {n.name: n.id for n in self.backend.list_nodes(NodeFilter(include_undeployed=True))}
        return {"Task": self.map.task_detail(node, ids)}

    def _neighbour_tasks(self, params: Params, key: str, upward: bool) -> dict[str, Any]:
        node = self._node(params.int("Id", required=True))  # type: ignore[arg-type]
        number, size = params.paging()
        by_name = {n.name: n for n in self._nodes()}
        names = node.upstreams if upward else node.downstreams
        rows = [
            {"DependencyType": "Normal", "Task": self.map.task(by_name[n])}
            for n in names
            if n in by_name
        ]
        return {"PagingInfo": _page(rows, number, size, key)}

    def ListUpstreamTasks(self, params: Params) -> dict[str, Any]:
        return self._neighbour_tasks(params, "UpstreamTasks", upward=True)

    def ListDownstreamTasks(self, params: Params) -> dict[str, Any]:
        return self._neighbour_tasks(params, "DownstreamTasks", upward=False)

    def UpdateTask(self, params: Params) -> dict[str, Any]:
        task_id = params.int("Id", required=True)
        fields = {k: v for k, v in params.values.items() if k in _UPDATABLE_TASK_FIELDS}
        fields["Trigger"] = params.json("Trigger", default={})
        self._set_recurrence(task_id, fields)  # type: ignore[arg-type]
        return {"Success": True}

    def BatchUpdateTasks(self, params: Params) -> dict[str, Any]:
        tasks = params.json("Tasks", required=True)
        if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and _is_id(t.get("Id")) for t in tasks
        ):
            raise invalid("Tasks", "expected a JSON array of objects with an Id")
        info = {
            str(t["Id"]): self._outcome(lambda t=t: self._set_recurrence(int(t["Id"]), t))
            for t in tasks
        }
        return {"SuccessInfo": info}

    def _set_recurrence(self, task_id: int, fields: Mapping[str, Any]) -> ActionResult:
        """Only ``Trigger.Recurrence`` can change here: Pause freezes, Normal unfreezes."""
        others = sorted(set(fields) - {"Id", "EnvType", "Trigger"})
        trigger = fields.get("Trigger") or {}
        if others or not isinstance(trigger, dict) or set(trigger) - _KEPT_TRIGGER_FIELDS:
            raise invalid("Trigger", "the emulator only changes Trigger.Recurrence")
        node = self._node(task_id)
        recurrence = trigger.get("Recurrence")
        if recurrence == "Pause":
            return self.backend.freeze_node(node.name)
        if recurrence == "Normal":
            return self.backend.unfreeze_node(node.name)
        raise invalid("Trigger", "Recurrence must be Pause or Normal")

    # -- task instances (2024) ----------------------------------------------------------------

    def ListTaskInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging(max_size=500)
        ids = set(params.ids("Ids"))
        if params.int("Id") is not None:
            ids.add(params.int("Id"))  # type: ignore[arg-type]
        flt, keep = self._instance_filter(params, ids)
        items = [self.map.task_instance(i) for i in self._all_instances(flt) if keep(i)]
        items = _sorted(items, params.text("SortBy", default="Id Desc"), "SortBy", _TIME_SORTS)
        return {"PagingInfo": _page(items, number, size, "TaskInstances")}

    def _instance_filter(
        self, params: Params, ids: set[int]
    ) -> tuple[InstanceFilter, Callable[[InstanceInfo], bool]]:
        """What the store filters (InstanceFilter) and what is checked row by row."""
        workflow_instance = params.int("WorkflowInstanceId")
        bizdate_ms = params.int("Bizdate", required=not ids and workflow_instance is None)
        kind = _kind(params.text("WorkflowInstanceType"))
        statuses = _statuses_2024(params.text("Status"))
        task_ids = set(params.ids("TaskIds"))
        if params.int("TaskId") is not None:
            task_ids.add(params.int("TaskId"))  # type: ignore[arg-type]
        flt = InstanceFilter(
            bizdate=self.map.bizdate_of(bizdate_ms) if bizdate_ms is not None else None,
            statuses=statuses,
            owner=params.text("Owner"),
            kind=kind,
            backfill_id=workflow_instance,
            text=params.text("TaskName"),
            limit=500,
        )
        task_type_name, recurrence = params.text("TaskType"), params.text("TriggerRecurrence")

        def keep(item: InstanceInfo) -> bool:
            mapped = self.map.task_instance(item)
            return (
                (not ids or item.id in ids)
                and (not task_ids or item.node_id in task_ids)
                and (not task_type_name or mapped["TaskType"] == task_type_name)
                and (not recurrence or mapped["TriggerRecurrence"] == recurrence)
            )

        return flt, keep

    def _all_instances(self, flt: InstanceFilter) -> list[InstanceInfo]:
        """Every matching instance, read window by window (the store pages by keyset)."""
        found: list[InstanceInfo] = []
        while True:
            page = self.backend.list_instances(flt)
            found.extend(page.items)
            if page.next_after is None:
                return found
            flt = InstanceFilter(**{**flt.__dict__, "after": page.next_after})

    def _instance(self, params: Params, name: str = "Id") -> InstanceInfo:
        return self.backend.get_instance(params.int(name, required=True))  # type: ignore[arg-type]

    def GetTaskInstance(self, params: Params) -> dict[str, Any]:
        item = self._instance(params)
        detail = {
            **self.map.task_instance(item),
            "Script": {"Parameters": _parameter_text(self.backend.parameters(item.id))},
            "Tags": [],
        }
        return {"TaskInstance": detail}

    def GetTaskInstanceLog(self, params: Params) -> dict[str, Any]:
        item = self._instance(params)
        run = params.int("RunNumber")
        if run is not None and run < 1:
            raise invalid("RunNumber", "it must be 1 or more")
        return {"TaskInstanceLog": self._log(item.id, run)}

    def _log(self, instance_id: int, attempt: int | None) -> str:
        chunks: list[str] = []
        offset = 0
        while True:
            page = self.backend.read_log(instance_id, attempt, offset, limit=1 << 20)
            chunks.append(page.text)
            if page.at_end or page.next_offset == offset:
                return "".join(chunks)
            offset = page.next_offset

    def _relatives(self, params: Params, key: str, direction: str) -> dict[str, Any]:
        item = self._instance(params)
        number, size = params.paging()
        rows = [
            {
                "DependencyType": "CrossCycle" if r.cross_cycle else "Normal",
                "TaskInstance": self.map.task_instance(r.instance),
            }
            for r in self.backend.relatives(item.id, direction, levels=1)
        ]
        return {"PagingInfo": _page(rows, number, size, key)}

    def ListUpstreamTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, "UpstreamTaskInstances", "up")

    def ListDownstreamTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._relatives(params, "DownstreamTaskInstances", "down")

    def _batch(self, params: Params, act: Callable[[list[int]], ActionResult]) -> dict[str, Any]:
        """One action per id, so a refusal is that id's failure and the rest still happen."""
        ids = params.ids("Ids", required=True)
        return {"SuccessInfo": {str(i): self._outcome(lambda i=i: act([i])) for i in ids}}

    @staticmethod
    def _outcome(act: Callable[[], ActionResult]) -> dict[str, Any]:
        try:
            result = act()
        except ActionRefused as refused:
            return {"Success": False, "Message": refused.reason}
        except ApiFailure as failure:
            return {"Success": False, "Message": failure.message}
        return {"Success": True, "Message": result.message}

    def RerunTaskInstances(self, params: Params) -> dict[str, Any]:
        params.bool("UseLatestConfig")
        return self._batch(params, self.backend.rerun)

    def SetSuccessTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.set_success)

    def StopTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.stop)

    def SuspendTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.freeze)

    def ResumeTaskInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self.backend.unfreeze)

    # -- workflow instances and backfill (2024) -----------------------------------------------

    def CreateWorkflowInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        name = params.text("Name", required=True)
        if params.text("Type", required=True) != "SupplementData":
            raise invalid("Type", "the emulator creates SupplementData (backfill) runs only")
        if params.int("WorkflowId", required=True) != PERIODIC_WORKFLOW_ID:
            raise invalid("WorkflowId", "backfill runs use WorkflowId 1 (periodic tasks)")
        requests = self._backfill_requests(
            name,
            params.json("Periods", required=True),
            params.json("DefaultRunProperties", required=True),
        )
        operation_id = uuid.uuid4().hex
        with self._lock:
            self._operations[operation_id] = self._create_backfills(requests)
        return {"OperationId": operation_id}

    def _create_backfills(self, requests: list[BackfillRequest]) -> dict[str, Any]:
        created: list[int] = []
        try:
            for request in requests:
                created.append(self.backend.backfill(request).extra["backfill_id"])
        except ActionRefused as refused:
            return {"Status": "CreateFailure", "FailureMessage": refused.reason}
        return {"Status": "Created", "WorkflowInstanceIds": created}

    def _backfill_requests(self, name: str, periods: Any, properties: Any) -> list[BackfillRequest]:
        if not isinstance(properties, dict):
            raise invalid("DefaultRunProperties", "expected a JSON object")
        names = {n.id: n.name for n in self._nodes()}
        mode = properties.get("Mode")
        roots = _id_list(properties, "RootTaskIds")
        if mode not in ("General", "AllDownstream") or len(roots) != 1:
            raise invalid(
                "DefaultRunProperties",
                "Mode must be General or AllDownstream with exactly one RootTaskIds entry",
            )
        unknown = [i for i in roots + _id_list(properties, "IncludeTaskIds") if i not in names]
        unknown += [i for i in _id_list(properties, "ExcludeTaskIds") if i not in names]
        if unknown:
            raise invalid("DefaultRunProperties", f"no deployed task with id {unknown[0]}")
        parallel = properties.get("Parallelism", 1)
        if not isinstance(parallel, int) or isinstance(parallel, bool):
            raise invalid("DefaultRunProperties", "Parallelism must be an integer")
        common = {
            "node": names[roots[0]],
            "downstream": mode == "AllDownstream",
            "include": tuple(
                names[i] for i in _id_list(properties, "IncludeTaskIds") if i != roots[0]
            ),
            "exclude": tuple(names[i] for i in _id_list(properties, "ExcludeTaskIds")),
            "parallel": parallel,
            "descending": properties.get("Order") == "Desc",
            "name": name,
        }
        ranges, window = _periods(periods)
        return [
            BackfillRequest(start=start, end=end, window=window, **common)  # type: ignore[arg-type]
            for start, end in ranges
        ]

    def GetCreateWorkflowInstancesResult(self, params: Params) -> dict[str, Any]:
        operation_id = params.text("OperationId", required=True)
        with self._lock:
            result = self._operations.get(operation_id)
        if result is None:
            raise invalid("OperationId", f"no operation {operation_id!r}")
        return {"Result": result}

    def ListWorkflowInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        bizdate = self.map.bizdate_of(params.int("BizDate", required=True))  # type: ignore[arg-type]
        kind, ids = params.text("Type"), set(params.ids("Ids"))
        name = params.text("Name")
        rows = [
            self.map.workflow_instance(b)
            for b in self.backend.list_backfills(limit=1000)
            if any(r.bizdate == bizdate for r in b.runs)
            and (not ids or b.id in ids)
            and (not name or name.lower() in b.name.lower())
        ]
        if kind and kind != "SupplementData":
            rows = []
        return {"PagingInfo": _page(rows, number, size, "WorkflowInstances")}

    def GetWorkflowInstance(self, params: Params) -> dict[str, Any]:
        backfill = self.backend.get_backfill(params.int("Id", required=True))  # type: ignore[arg-type]
        return {"WorkflowInstance": self.map.workflow_instance(backfill)}

    def StopWorkflowInstances(self, params: Params) -> dict[str, Any]:
        return self._batch(params, self._stop_backfill)

    def _stop_backfill(self, ids: list[int]) -> ActionResult:
        """Stop every unfinished instance of the backfill (DataWorks stops the whole run)."""
        self.backend.get_backfill(ids[0])
        flt = InstanceFilter(backfill_id=ids[0], statuses=UNFINISHED, limit=500)
        open_ids = [i.id for i in self._all_instances(flt)]
        if not open_ids:
            return ActionResult("stop", [], f"backfill #{ids[0]} has nothing left to stop")
        return self.backend.stop(open_ids)

    # -- 2020-05-18 -----------------------------------------------------------------------------

    @staticmethod
    def _legacy(data: Any) -> dict[str, Any]:
        """The 2020 envelope: ``Data`` beside ``Success`` and ``HttpStatusCode``."""
        return {"Success": True, "HttpStatusCode": 200, "Data": data}

    def legacy_ListInstances(self, params: Params) -> dict[str, Any]:
        self._project(params)
        number, size = params.paging()
        status = params.text("Status")
        statuses = (Status.NOT_RUN, Status.FROZEN) if status == "NOT_RUN" else ()
        if status and not statuses:
            statuses = (_enum(Status, status, "Status"),)
        node_id = params.int("NodeId")
        flt = InstanceFilter(
            bizdate=_legacy_day(params.text("Bizdate"), "Bizdate"),
            statuses=statuses,
            owner=params.text("Owner"),
            backfill_id=params.int("DagId"),
            text=params.text("NodeName"),
            limit=500,
        )
        items = [
            self.map.instance_2020(i)
            for i in self._all_instances(flt)
            if node_id is None or i.node_id == node_id
        ]
        items.sort(key=lambda i: i["InstanceId"], reverse=True)
        return self._legacy(_page(items, number, size, "Instances"))

    def legacy_GetInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy(self.map.instance_2020(self._instance(params, "InstanceId")))

    def legacy_GetInstanceLog(self, params: Params) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        return self._legacy(self._log(item.id, params.int("InstanceHistoryId")))

    def legacy_ListInstanceHistory(self, params: Params) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        rows = [
            _compact(
                {
                    "InstanceId": item.id,
                    "InstanceHistoryId": a.number,
                    "NodeId": item.node_id,
                    "NodeName": item.node,
                    "Status": a.status.value,
                    "BeginRunningTime": _ms(a.started_at),
                    "FinishTime": _ms(a.finished_at),
                    "ErrorMessage": a.reason or None,
                }
            )
            for a in self.backend.attempts(item.id)
        ]
        return {"Success": True, "HttpStatusCode": 200, "Instances": rows}

    def _legacy_act(
        self, params: Params, act: Callable[[list[int]], ActionResult]
    ) -> dict[str, Any]:
        item = self._instance(params, "InstanceId")
        act([item.id])
        return self._legacy(True)

    def legacy_RestartInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy_act(params, self.backend.rerun)

    def legacy_SetSuccessInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy_act(params, self.backend.set_success)

    def legacy_StopInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy_act(params, self.backend.stop)

    def legacy_SuspendInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy_act(params, self.backend.freeze)

    def legacy_ResumeInstance(self, params: Params) -> dict[str, Any]:
        return self._legacy_act(params, self.backend.unfreeze)

    def legacy_UpdateNodeRunMode(self, params: Params) -> dict[str, Any]:
        node = self._node(params.int("NodeId", required=True))  # type: ignore[arg-type]
        mode = params.int("SchedulerType", required=True)
        if mode == 2:
            self.backend.freeze_node(node.name)
        elif mode == 0:
            self.backend.unfreeze_node(node.name)
        else:
            raise invalid("SchedulerType", "2 freezes, 0 unfreezes")
        return {"Success": True, "HttpStatusCode": 200}

    def legacy_GetInstanceStatusCount(self, params: Params) -> dict[str, Any]:
        self._project(params)
        bizdate = _legacy_day(params.text("BizDate", required=True), "BizDate")
        counts = self.backend.status_counts(bizdate).counts  # type: ignore[arg-type]
        return {
            "Success": True,
            "HttpStatusCode": 200,
            "StatusCount": {
                "TotalCount": sum(counts.values()),
                "NotRunCount": counts[Status.NOT_RUN] + counts[Status.FROZEN],
                "WaitTimeCount": counts[Status.WAIT_TIME],
                "WaitResCount": counts[Status.WAIT_RESOURCE],
                "RunningCount": counts[Status.RUNNING],
                "SuccessCount": counts[Status.SUCCESS],
                "FailureCount": counts[Status.FAILURE],
            },
        }

    def legacy_TopTenErrorTimesInstance(self, params: Params) -> dict[str, Any]:
        """Nodes by failed runs over the last 30 days (the local dashboard's ranking)."""
        self._project(params)
        today = self.backend.now().astimezone(self.map.zone).date()
        ids = {n.name: n.id for n in self.backend.list_nodes(NodeFilter(include_undeployed=True))}
        rank = [
            _compact(
                {
                    "NodeId": ids.get(e.node),
                    "NodeName": e.node,
                    "Owner": e.owner,
                    "Count": e.failures,
                }
            )
            for e in self.backend.dashboard(today).top_errors
        ]
        return {"Success": True, "HttpStatusCode": 200, "InstanceErrorRank": {"ErrorRank": rank}}

    def _baseline_ids(self) -> dict[str, int]:
        with self.backend.db.connect() as conn:
            rows = conn.execute(
                select(BaselineRow.name, BaselineRow.id).where(
                    BaselineRow.workspace_id == self.backend.workspace_id
                )
            ).all()
        return dict(rows)  # type: ignore[arg-type]

    def legacy_ListBaselines(self, params: Params) -> dict[str, Any]:
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
        return self._legacy(_page(baselines, number, size, "Baselines"))

    def legacy_ListBaselineStatuses(self, params: Params) -> dict[str, Any]:
        number, size = params.paging()
        bizdate = self._baseline_day(params)
        ids = self._baseline_ids()
        wanted = {s.strip() for s in params.text("Status").split(",") if s.strip()}
        rows = [
            self.map.baseline_status(b, ids[b.name]) for b in self.backend.list_baselines(bizdate)
        ]
        rows = [r for r in rows if not wanted or r["Status"] in wanted]
        return self._legacy(_page(rows, number, size, "BaselineStatuses"))

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

    def legacy_GetBaselineStatus(self, params: Params) -> dict[str, Any]:
        baseline_id, detail = self._baseline(params)
        data = self.map.baseline_status(detail.status, baseline_id)
        key = detail.status.key_instance
        if key is not None:
            data["LastInstance"] = self._brief(key)
            if not key.status.finished:
                data["BlockInstance"] = self._brief(key)
        return self._legacy(data)

    def _brief(self, item: InstanceInfo) -> dict[str, Any]:
        return _compact(
            {
                "InstanceId": item.id,
                "NodeId": item.node_id,
                "NodeName": item.node,
                "Owner": item.owner,
                "ProjectId": self.map.project_id,
                "Status": self.map.instance_2020(item)["Status"],
                "FinishTime": _ms(item.finished_at),
            }
        )

    def legacy_GetBaselineKeyPath(self, params: Params) -> dict[str, Any]:
        _, detail = self._baseline(params)
        steps = [
            {
                **self._brief(step.instance),
                "Bizdate": self.map.bizdate_ms(step.instance.bizdate),
                "InGroupId": detail.status.cycle,
                "Runs": [
                    _compact(
                        {
                            "Status": self.map.instance_2020(step.instance)["Status"],
                            "BeginCast": _ms(step.est_start),
                            "EndCast": _ms(step.est_finish),
                            "BeginRunningTime": _ms(step.instance.started_at),
                            "FinishTime": _ms(step.instance.finished_at),
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
        return self._legacy(steps)

    # -- events and fired alerts (2020) -------------------------------------------------------

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

    def legacy_ListTopics(self, params: Params) -> dict[str, Any]:
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
            _compact(
                {
                    "TopicId": e.id,
                    "TopicName": e.message,
                    "TopicType": e.kind,
                    "TopicStatus": e.status,
                    "NodeId": instances[e.instance_id].node_id,
                    "NodeName": e.node,
                    "InstanceId": e.instance_id,
                    "HappenTime": _ms(e.created_at),
                    "FixTime": _ms(e.updated_at) if e.status == "RECOVER" else None,
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
        return self._legacy(_page(topics, number, size, "Topics"))

    def legacy_GetTopicInfluence(self, params: Params) -> dict[str, Any]:
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
            influence.update(_compact({"Buffer": status.get("Buffer"), "Status": status["Status"]}))
        return self._legacy({"Influences": [influence]})

    def legacy_ListAlertMessages(self, params: Params) -> dict[str, Any]:
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
        return self._legacy(_page(messages, number, size, "AlertMessages"))

    def _alert_message(self, row: Any) -> dict[str, Any]:
        kind, _, rest = row.target.partition(":")
        message: dict[str, Any] = {
            "AlertId": str(row.id),
            "AlertTime": _ms(row.last_sent_at or row.first_at),
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


_UPDATABLE_TASK_FIELDS = {
    "Id",
    "EnvType",
    "Owner",
    "Name",
    "RerunMode",
    "RerunTimes",
    "RerunInterval",
    "Timeout",
    "InstanceMode",
    "RuntimeResource",
    "Script",
    "DataSource",
    "Dependencies",
    "Inputs",
    "Outputs",
    "Tags",
    "Description",
}
# A client sends the full trigger read from GetTask (spec 3.1); only Recurrence may differ.
_KEPT_TRIGGER_FIELDS = {"Type", "Cron", "CycleType", "Recurrence", "StartTime", "EndTime"}
_TIME_SORTS = {
    "TriggerTime": "TriggerTime",
    "StartedTime": "StartedTime",
    "FinishedTime": "FinishedTime",
    "CreateTime": "TriggerTime",
    "Id": "Id",
}


def _sorted(
    rows: list[dict[str, Any]], sort_by: str, name: str, fields: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """``<Field> Asc|Desc`` as the 2024 list operations take it; missing values sort first."""
    fields = fields or {"Id": "Id", "CreateTime": "CreateTime", "ModifyTime": "ModifyTime"}
    column, _, direction = sort_by.partition(" ")
    if column not in fields or direction not in ("Asc", "Desc", ""):
        raise invalid(name, f"{sort_by!r} is not one of {', '.join(fields)} + Asc/Desc")
    key = fields[column]
    return sorted(rows, key=lambda r: (r.get(key) or 0, r.get("Id", 0)), reverse=direction != "Asc")


def _statuses_2024(text: str) -> tuple[Status, ...]:
    if not text:
        return ()
    found = tuple(s for s, word in STATUS_2024.items() if word == text)
    if not found:
        raise invalid("Status", f"{text!r} is not a task instance status")
    return found


def _kind(text: str) -> InstanceKind | None:
    if not text:
        return None
    for kind, word in WORKFLOW_TYPES.items():
        if word == text:
            return kind
    raise invalid("WorkflowInstanceType", f"{text!r} is not a workflow instance type")


def _enum(kind: type[Status], text: str, name: str) -> Status:
    try:
        return kind(text)
    except ValueError:
        raise invalid(name, f"{text!r} is not one of {', '.join(kind.__members__)}") from None


def _legacy_day(text: str, name: str) -> date | None:
    """2020 dates: ``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss``."""
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise invalid(name, "expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss") from None


def _id_list(properties: Mapping[str, Any], key: str) -> list[int]:
    value = properties.get(key) or []
    if not isinstance(value, list) or not all(_is_id(v) for v in value):
        raise invalid("DefaultRunProperties", f"{key} must be an array of task ids")
    return [int(v) for v in value]


def _periods(periods: Any) -> tuple[list[tuple[date, date]], tuple[str, str] | None]:
    """The business date ranges (at most 7) and the optional time window of ``Periods``."""
    ranges = periods.get("BizDates") if isinstance(periods, dict) else None
    if not isinstance(ranges, list) or not 1 <= len(ranges) <= 7:
        raise invalid("Periods", "BizDates must hold 1 to 7 date ranges")
    try:
        dates = [
            (date.fromisoformat(r["StartBizDate"]), date.fromisoformat(r["EndBizDate"]))
            for r in ranges
        ]
    except (TypeError, KeyError, ValueError):
        why = "each range needs StartBizDate and EndBizDate (yyyy-mm-dd)"
        raise invalid("Periods", why) from None
    start, end = periods.get("StartTime"), periods.get("EndTime")
    if (start is None) != (end is None):
        raise invalid("Periods", "give both StartTime and EndTime, or neither")
    if start is None or (start, end) == ("00:00:00", "23:59:59"):
        return dates, None
    return dates, (str(start)[:5], str(end)[:5])


# -- the server ------------------------------------------------------------------------------


class Emulator:
    """Turns one received request into (HTTP status, JSON answer)."""

    def __init__(self, backend: LocalBackend, verifier: Verifier) -> None:
        self.operations = Operations(backend)
        self.verifier = verifier

    def answer(self, request: Incoming, host: str) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()
        try:
            body = self._dispatch(request)
        except ApiFailure as failure:
            return failure.status, _error_body(request_id, host, failure.code, failure.message)
        except ActionRefused as refused:
            return 400, _error_body(request_id, host, "OperationDenied", refused.reason)
        except Exception:
            log.exception("request %s failed", request_id)
            message = "The request processing has failed due to some unknown error."
            return 500, _error_body(request_id, host, "InternalError.System", message)
        return 200, {"RequestId": request_id, **body}

    def _dispatch(self, request: Incoming) -> dict[str, Any]:
        params = request.params
        action = request.headers.get("x-acs-action") or params.get("Action")
        version = request.headers.get("x-acs-version") or params.get("Version")
        if not action:
            raise missing("Action")
        if not version:
            raise missing("Version")
        if version not in (V2024, V2020):
            raise ApiFailure(400, "NoSuchVersion", f"Specified api version {version} is not valid.")
        self.verifier.verify(request)
        operation = self.operations.table.get((version, action))
        if operation is None:
            raise ApiFailure(
                404, "InvalidApi.NotFound", f"Specified api {action} is not found in {version}."
            )
        return operation(Params(params))


def _error_body(request_id: str, host: str, code: str, message: str) -> dict[str, Any]:
    """The gateway's error shape (spec 2.6)."""
    return {
        "RequestId": request_id,
        "HostId": host,
        "Code": code,
        "Message": message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=dataworks-public"
        f"&requestId={request_id}",
    }


def parse_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Incoming:
    """Query and form body decoded (form only when the content type says so)."""
    parts = urlsplit(target)
    if parts.path not in ("", "/"):
        raise ApiFailure(404, "InvalidApi.NotFound", f"Specified path {parts.path} is not found.")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    form: dict[str, str] = {}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if body:
        if content_type != FORM:
            raise ApiFailure(
                400, "InvalidParameter", f"Unsupported content type {content_type or 'none'!r}."
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiFailure(400, "InvalidParameter", "The body is not UTF-8.") from None
        form = dict(parse_qsl(text, keep_blank_values=True))
    return Incoming(method, query, form, dict(headers), body)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        host = self.headers.get("host", "")
        try:
            body = self._body()
            request = parse_request(self.command, self.path, self._headers(), body)
            status, answer = self.server.emulator.answer(request, host)
        except ApiFailure as failure:
            request_id = str(uuid.uuid4()).upper()
            status = failure.status
            answer = _error_body(request_id, host, failure.code, failure.message)
        self._send(status, answer)

    def _body(self) -> bytes:
        length = self.headers.get("content-length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            raise ApiFailure(400, "InvalidParameter", f"Bad Content-Length {length!r}.")
        return self.rfile.read(int(length))

    def _headers(self) -> dict[str, str]:
        merged: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            merged.setdefault(name.lower(), []).append(value.strip())
        return {name: ",".join(values) for name, values in merged.items()}

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-acs-request-id", str(answer.get("RequestId", "")))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to one Emulator."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def credentials_from(
    key_id: str | None, secret: str | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """The access key the emulator accepts: options first, then the environment."""
    key_id = key_id or environ.get(ENV_KEY_ID)
    secret = secret or environ.get(ENV_KEY_SECRET)
    if not key_id or not secret:
        raise ValueError(
            "the emulator needs an access key to verify signatures: pass --access-key-id and "
            f"--access-key-secret, or set {ENV_KEY_ID} and {ENV_KEY_SECRET}"
        )
    return {key_id: secret}


def serve(
    backend: LocalBackend,
    credentials: Mapping[str, str],
    host: str,
    port: int,
    say: Callable[[str], None] = print,
) -> None:
    """Serve until SIGINT or SIGTERM (the verb ``opscenter emulate``)."""
    server = EmulatorServer((host, port), Emulator(backend, Verifier(credentials)))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker = threading.Thread(target=server.serve_forever, daemon=True)
    worker.start()
    say(f"DataWorks API emulator for workspace {backend.workspace().name} on {server.url}")
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
