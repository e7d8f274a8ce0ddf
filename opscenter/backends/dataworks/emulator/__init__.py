"""A local DataWorks OpenAPI: the embedded engine and store served over the real wire format.

The console's dataworks backend (and the official SDKs) talk to it exactly as to
``dataworks.<region>.aliyuncs.com`` (spec 2 and the checklist of spec 7): RPC style on
``/``, the action and version from ``x-acs-action``/``x-acs-version`` or the
``Action``/``Version`` parameters, query and form body merged, JSON fields decoded,
ACS3-HMAC-SHA256 signatures verified (V2 HMAC-SHA1 when a ``Signature`` parameter is
present), clock skew over 15 minutes and reused nonces refused, and every answer -
success or error - carrying a ``RequestId``. Errors use the gateway's shape (spec 2.6);
an unexpected exception becomes ``InternalError.System`` with its traceback logged here
only. Bad input is never a 5xx: a non-ASCII signature does not match, and a JSON
parameter nested more than 32 deep is ``InvalidParameter``. Connections are served by a
bounded worker pool (listen backlog 128); one silent past its read timeout is closed, and a
client that goes away is logged without a traceback. Behind it sits one LocalBackend, so
every action is checked and audited there (source ``emulator``).

Modules: ``wire`` (parameters, error shapes), ``auth`` (signatures), ``gateway`` (HTTP,
dispatch, ``serve``), ``mapping`` (records -> wire fields and ids), ``operations`` (the
table of every operation), ``ops2024``, ``pipelines`` (2024 undeploy), ``ops2020``,
``dags2020`` (2020 backfill) and ``sla2020`` (2020 baselines, events, alerts).

Mapping decisions where the local world and DataWorks differ:

- Ids: ``ProjectId`` is the workspace's store id; ``Task.Id``/``NodeId`` the node id;
  ``TaskInstance.Id``/``InstanceId`` the instance id (also the 2020 ``InstanceHistoryId``
  is the attempt number, since attempts have no id of their own).
- A frozen instance (local ``FROZEN``) is ``Status`` ``NotRun``/``NOT_RUN`` with
  ``TriggerRecurrence`` ``Pause`` (2020: ``TaskType`` ``PAUSE``), as DataWorks shows a
  suspended instance; a dry-run one is ``Success`` with ``Skip`` (2020 ``SKIP``).
  A status filter ``NotRun`` therefore matches frozen instances too.
- ``TaskType`` uses DataWorks' codes (``vocabulary.TASK_TYPES``); an unknown local type is
  upper-cased.
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
  message; an id or name that is not there (NotFound) is HTTP 404 ``ResourceNotFound``; in
  the batch operations either is the id's ``SuccessInfo`` entry instead.
- ``UpdateTask``/``BatchUpdateTasks`` change only ``Trigger.Recurrence`` (Pause freezes the
  node, Normal unfreezes it); any other field is ``InvalidParameter``, except the empty
  ``Tags`` the official SDK sends with every task.
- Baseline events are 2020 topics (``TopicId`` the event id, ``TopicName`` its message);
  ``GetTopicInfluence`` names the one baseline run the event belongs to. A fired alert is
  one ``ListAlertMessages`` entry (``AlertId`` the alert id, ``RemindName`` its rule,
  ``AlertTime`` its last send or first firing, ``Source`` ``REMIND_ALERT``); its send
  count and resolution have no field. A warning baseline is ``DANGROUS``, as DataWorks
  spells it. ``ListBaselines`` and ``ListAlertMessages`` send their paging numbers as
  strings, and ``GetNode`` its ``Repeatability`` as ``"true"``/``"false"`` (ListNodes: a
  bool), as the SDK's models declare them.
- Data Studio nodes (2024 ``ListNodes``): every local node is one, ``Id`` the string
  ``str(7000000000 + node id)`` - deliberately unequal to the task id, as in DataWorks -
  and ``TaskId`` the node id. Undeployed nodes are listed too (Data Studio keeps the
  development object; only the production task goes). A ``Scene`` other than
  ``DataworksProject`` lists nothing (there are no manual workflows). ``Recurrence`` is
  ``Pause`` for a frozen node; ``Strategy.RerunMode`` uses the Data Studio words
  (``Allowed``/``FailureAllowed``/``Denied``); ``Script.Path`` is the code file (or the
  node name); there is no ``Script.Id`` or ``DataSource``. The paging numbers are strings,
  as real DataWorks sends them.
- The workspace: 2024 ``GetProject`` is ``Status`` ``Available`` with no development
  environment, ``Owner`` the user who deployed it; 2020 ``GetProject`` (by ``ProjectId``
  or ``ProjectIdentifier`` = the workspace name) is ``Status`` 0 (AVAILABLE),
  ``ProjectMode`` 3 and ``EnvTypes`` ``["PROD"]``. So ``ListNodes``, ``GetNode``,
  ``GetNodeParents``/``GetNodeChildren``, ``GetNodeCode``, ``RunCycleDagNodes``, ``GetDag``
  and ``ListDags`` (2020) require ``ProjectEnv`` ``PROD``; ``DEV`` is InvalidParameter.
- Undeploy (2024): deployment pipeline runs of ``Type`` ``Offline`` only (``Online`` is
  InvalidParameter: deploying is not emulated). A run has two stages, run strictly in
  order: Step 1 ``PROD_CHECK`` (Type ``Check``) checks the node can still be undeployed,
  Step 2 ``PROD`` (Type ``Offline``) calls the LocalBackend's undeploy (audited there).
  ``CreatePipelineRun`` itself refuses (``OperationDenied``) a node that is not deployed,
  is the workspace root, or still has downstream nodes, naming them. A stage runs
  synchronously when ``ExecPipelineRunStage`` triggers it and ends ``Success`` or
  ``Fail`` (the refusal as its ``Message``); the run is ``Init`` until a stage has run,
  ``Running`` while stages remain, then ``Success``, ``Fail`` or (abolished) ``Cancel``.
  Runs are kept in memory only: they are transient here, and a restart forgets them.
- 2020 nodes: ``SchedulerType`` ``NORMAL``, ``PAUSE`` (frozen) or ``SKIP`` (run mode
  Skip); ``RepeatMode`` 0/1/2 from the rerun mode FailureAllowed/Allowed/Denied;
  ``RepeatInterval`` in ms; ``ParamValues`` ``k=v`` pairs joined by spaces; ``BaselineId``
  the lowest-id baseline listing the node. Only a manually triggered node (``SchedulerType``
  ``MANUAL``) is in a business flow: its manual workflow, which ``BizName`` matches.
  ``GetNodeParents``/``GetNodeChildren`` give same-cycle relatives
  (``StepType`` "0") then cross-cycle ones ("3"): a self-dependent node is its own
  parent and child, and a node depending on its children's previous cycle has each child
  as a cross-cycle parent. ``OfflineNode`` undeploys at once; its ``Success`` is the
  string ``"true"``.
- Emergency operations (2024 only, as in DataWorks): ``RemoveTaskInstanceDependencies``
  and ``UpdateTaskInstances`` call the LocalBackend's remove_upstream and
  update_instances with the ``Comment``; ``UpdateTaskInstances`` answers per id in
  ``SuccessInfo``, ``RuntimeResource`` being a resource group name, ``DataSource`` refused.
  A removed dependency is no longer listed by ``List{Up,Down}streamTaskInstances``.
- Test and manual runs: ``CreateWorkflowInstances`` ``Type`` ``SmokeTest`` (``WorkflowId``
  1, one ``RootTaskIds`` entry), ``ManualWorkflow`` (a whole manual workflow) or ``Manual``
  (its ``IncludeTaskIds``), for one business date; 2020 ``RunSmokeTest`` and
  ``RunManualDagNodes`` (``ProjectName`` the workspace name, one ``BizDate``; a date range,
  exclusions and parameters are refused). A run's workflow instance id (2024) or DagId
  (2020) is its lowest instance id, kept in memory like pipeline runs (after a restart an
  instance is its own run); ``ListTaskInstances`` with that ``WorkflowInstanceId`` and
  ``WorkflowInstanceType`` ``SmokeTest``/``Manual``, ``ListInstances`` with that ``DagId``
  and ``ListManualDagInstances`` list its instances, of ``DagType`` ``SMOKE_TEST`` and
  ``MANUAL_FLOW``. Manual workflows are the local ``workflow`` names of manually triggered
  nodes, ``Id`` 8000000000 + the CRC-32 of the name: ``ListWorkflows`` (``TriggerType``
  Manual; no other workflow is listed) and ``GetWorkflow`` (with its ``Tasks``, in the
  shape of that model: ``TriggerRecurrence``, no ``Trigger``); a manual task's
  ``Trigger.Type`` is ``Manual`` and its ``WorkflowId`` that id.
- 2020 backfill: ``RunCycleDagNodes`` makes one local backfill of ``RootNodeId`` with the
  other ``IncludeNodeIds`` included and ``ExcludeNodeIds`` excluded; ``Parallelism``
  false runs one date at a time, true runs ``ConcurrentRuns`` (2-10) dates at once, or
  10 (the local maximum) without it; ``BizBeginTime``/``BizEndTime`` other than
  00:00:00/23:59:59 are the hourly nodes' window; ``NodeParams`` is refused (no override
  locally); alert settings and ``StartFutureInstanceImmediately`` are ignored (future
  dates wait for their time). Each business date is one ``SUPPLY_DATA`` DAG:
  ``DagId = backfill id * 100000000 + yyyymmdd`` (backfill 3, 2025-03-14 -> 320250314),
  ``OpSeq`` the backfill id, ``Status`` ``CREATED`` until its date starts, then
  ``RUNNING``, ``SUCCESS`` or ``FAILURE``. Backfill instances carry that ``DagId``, and
  ``ListInstances`` with ``DagId`` lists them.
"""

from opscenter.backends.dataworks.emulator.auth import Verifier
from opscenter.backends.dataworks.emulator.gateway import (
    ENV_KEY_ID,
    ENV_KEY_SECRET,
    Emulator,
    EmulatorServer,
    credentials_from,
    parse_request,
    serve,
)
from opscenter.backends.dataworks.emulator.mapping import Mapper
from opscenter.backends.dataworks.emulator.operations import Operations
from opscenter.backends.dataworks.emulator.wire import (
    V2020,
    V2024,
    ApiFailure,
    Incoming,
    Params,
)

__all__ = [
    "ENV_KEY_ID",
    "ENV_KEY_SECRET",
    "V2020",
    "V2024",
    "ApiFailure",
    "Emulator",
    "EmulatorServer",
    "Incoming",
    "Mapper",
    "Operations",
    "Params",
    "Verifier",
    "credentials_from",
    "parse_request",
    "serve",
]
