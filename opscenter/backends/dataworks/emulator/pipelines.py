"""2024 deployment pipelines (spec 3.6), for undeploying only.

An ``Offline`` run has two stages executed strictly in order: ``PROD_CHECK`` (Check)
checks the node can still be undeployed, ``PROD`` (Offline) undeploys it through the
LocalBackend. A stage runs synchronously when executed, so a client polling
GetPipelineRun never sees it ``Running``. Runs live in this process's memory only: the
local world has no deployment records, and a restarted emulator starts with none.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from opscenter.backends.dataworks.emulator.base import Group
from opscenter.backends.dataworks.emulator.mapping import Mapper, ms, paged, task_id_of
from opscenter.backends.dataworks.emulator.wire import V2024, Params, invalid
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import DependencyType
from opscenter.domain.records import ActionRefused, NodeFilter, NodeInfo
from opscenter.domain.times import to_store

STATUSES = ("Init", "Running", "Success", "Fail", "Termination", "Cancel")
ENDED = ("Success", "Fail", "Termination", "Cancel")
# (Code, Name, Type) in execution order; Step is the 1-based position
STAGES = (
    ("PROD_CHECK", "Production check", "Check"),
    ("PROD", "Undeploy from production", "Offline"),
)


@dataclass
class Stage:
    code: str
    name: str
    type: str
    step: int
    status: str = "Init"
    message: str = ""

    def wire(self) -> dict[str, Any]:
        return {
            "Code": self.code,
            "Name": self.name,
            "Type": self.type,
            "Step": self.step,
            "Status": self.status,
            "Message": self.message,
            "Detail": {},
        }


@dataclass
class Run:
    """One pipeline run: the node it undeploys and its stages."""

    id: str
    seq: int  # creation order, for listing newest first
    object_id: str  # the Data Studio node id it was created for
    node: str
    creator: str
    description: str
    created: int  # ms
    modified: int  # ms
    stages: list[Stage] = field(default_factory=list)
    status: str = "Init"
    message: str = ""

    def wire(self, project_id: int) -> dict[str, Any]:
        return {
            "Id": self.id,
            "ProjectId": project_id,
            "Status": self.status,
            "Message": self.message,
            "Creator": self.creator,
            "Description": self.description,
            "CreateTime": self.created,
            "ModifyTime": self.modified,
            "Stages": [s.wire() for s in self.stages],
        }


class Pipelines(Group):
    """CreatePipelineRun, GetPipelineRun, ExecPipelineRunStage, AbolishPipelineRun and
    ListPipelineRuns over runs kept in memory."""

    VERSION = V2024
    ACTIONS = (
        "CreatePipelineRun",
        "GetPipelineRun",
        "ExecPipelineRunStage",
        "AbolishPipelineRun",
        "ListPipelineRuns",
    )

    def __init__(self, backend: LocalBackend, mapper: Mapper) -> None:
        super().__init__(backend, mapper)
        self._runs: dict[str, Run] = {}
        self._seq = count(1)
        self._lock = threading.Lock()  # one stage at a time, so none runs twice

    def CreatePipelineRun(self, params: Params) -> dict[str, Any]:
        """Refused at once for a node that could not be undeployed (spec 3.6's note)."""
        self._project(params)
        kind = params.text("Type", required=True)
        if kind == "Online":
            raise invalid("Type", "deploying (Online) is not emulated: use opscenter deploy")
        if kind != "Offline":
            raise invalid("Type", f"{kind!r} is not Online or Offline")
        mode = params.text("RunMode", default="Normal")
        if mode not in ("Normal", "Auto"):
            raise invalid("RunMode", f"{mode!r} is not Normal or Auto")
        until = params.text("AutoRunUntilStage", default=STAGES[-1][0])
        if mode == "Auto" and until not in [code for code, _, _ in STAGES]:
            raise invalid("AutoRunUntilStage", f"{until!r} is not a stage of an Offline run")
        object_id = self._object_id(params)
        node = self._studio_node(object_id)
        self._check_undeployable(node)
        now = self._now()
        run = Run(
            id=uuid.uuid4().hex,
            seq=next(self._seq),
            object_id=object_id,
            node=node.name,
            creator=self.backend.user,
            description=params.text("Description"),
            created=now,
            modified=now,
            stages=[Stage(c, n, t, step) for step, (c, n, t) in enumerate(STAGES, 1)],
        )
        with self._lock:
            self._runs[run.id] = run
            if mode == "Auto":
                for stage in run.stages:
                    self._execute(run, stage)
                    if stage.code == until or run.status in ENDED:
                        break
        return {"Id": run.id}

    def GetPipelineRun(self, params: Params) -> dict[str, Any]:
        self._project(params)
        with self._lock:
            return {"Pipeline": self._run(params).wire(self.map.project_id)}

    def ExecPipelineRunStage(self, params: Params) -> dict[str, Any]:
        """``Success`` means the stage was triggered; its outcome is read with GetPipelineRun."""
        self._project(params)
        code = params.text("Code", required=True)
        with self._lock:
            run = self._run(params)
            stage = next((s for s in run.stages if s.code == code), None)
            if stage is None:
                codes = ", ".join(s.code for s in run.stages)
                raise invalid("Code", f"{code!r} is not a stage of this run ({codes})")
            if run.status in ENDED:
                raise ActionRefused(f"pipeline run {run.id} has ended ({run.status})")
            if stage.status != "Init":
                raise ActionRefused(f"stage {code} has already run ({stage.status})")
            before = run.stages[stage.step - 2] if stage.step > 1 else None
            if before is not None and before.status != "Success":
                raise ActionRefused(
                    f"stage {code} cannot run before stage {before.code} has succeeded"
                )
            self._execute(run, stage)
        return {"Success": True}

    def AbolishPipelineRun(self, params: Params) -> dict[str, Any]:
        """An unfinished run is cancelled with the stages it had not run."""
        self._project(params)
        with self._lock:
            run = self._run(params)
            if run.status in ENDED:
                raise ActionRefused(f"pipeline run {run.id} has already ended ({run.status})")
            for stage in run.stages:
                if stage.status == "Init":
                    stage.status = "Cancel"
            run.status = "Cancel"
            run.message = f"abolished by {self.backend.user}"
            run.modified = self._now()
        return {"Success": True}

    def ListPipelineRuns(self, params: Params) -> dict[str, Any]:
        """Newest first; ``ObjectId`` is the Data Studio node id the run was created for."""
        self._project(params)
        number, size = params.paging()
        status, creator = params.text("Status"), params.text("Creator")
        object_id = params.text("ObjectId")
        if status and status not in STATUSES:
            raise invalid("Status", f"{status!r} is not one of {', '.join(STATUSES)}")
        with self._lock:
            rows = [
                r.wire(self.map.project_id)
                for r in sorted(self._runs.values(), key=lambda r: r.seq, reverse=True)
                if (not status or r.status == status)
                and (not creator or r.creator == creator)
                and (not object_id or r.object_id == object_id)
            ]
        return {"PagingInfo": paged(rows, number, size, "PipelineRuns")}

    # -- helpers ------------------------------------------------------------------------------

    def _now(self) -> int:
        return ms(to_store(self.backend.now()))  # type: ignore[return-value]

    @staticmethod
    def _object_id(params: Params) -> str:
        """The first of ``ObjectIds`` (a JSON array of Data Studio node ids); the rest are
        ignored, as DataWorks does."""
        ids = params.json("ObjectIds", required=True)
        if not isinstance(ids, list) or not ids or not isinstance(ids[0], str | int):
            raise invalid("ObjectIds", "expected a JSON array of Data Studio node ids")
        return str(ids[0])

    def _studio_node(self, object_id: str) -> NodeInfo:
        task_id = task_id_of(object_id)
        nodes = self.backend.list_nodes(NodeFilter(include_undeployed=True))
        found = next((n for n in nodes if n.id == task_id), None)
        if found is None:
            raise invalid("ObjectIds", f"no Data Studio node {object_id!r}")
        return found

    def _run(self, params: Params) -> Run:
        run_id = params.text("Id", required=True)
        run = self._runs.get(run_id)
        if run is None:
            raise invalid("Id", f"no pipeline run {run_id!r}")
        return run

    def _check_undeployable(self, node: NodeInfo) -> None:
        """What the local undeploy would refuse, asked before it is tried."""
        if node.state != "deployed":
            raise ActionRefused(f"node {node.name!r} is not deployed")
        if node.name == f"{self.backend.workspace().name}_root":
            raise ActionRefused("the workspace root node cannot be undeployed")
        other = DependencyType.CROSS_CYCLE_OTHER.value
        children = sorted(
            n.name
            for n in self._nodes()
            if node.name in n.upstreams or (other, node.name) in n.cross_cycle
        )
        if children:
            raise ActionRefused(
                f"node {node.name} has descendant nodes: {', '.join(children)}; undeploy them first"
            )

    def _execute(self, run: Run, stage: Stage) -> None:
        """Run one stage now and record its outcome in the stage and the run."""
        try:
            node = self.backend.get_node(run.node)
            if stage.type == "Check":
                self._check_undeployable(node)
                stage.message = f"node {node.name} can be undeployed"
            else:
                stage.message = self.backend.undeploy(node.name).message
        except ActionRefused as refused:
            stage.status, stage.message = "Fail", refused.reason
            run.status, run.message = "Fail", refused.reason
        else:
            stage.status = "Success"
            run.status = "Success" if stage.step == len(run.stages) else "Running"
        run.modified = self._now()
