"""Undeploying a task on the new Data Studio: an Offline deployment pipeline (spec 3.6) for
its Data Studio node, driven here stage by stage, since DataWorks runs none by itself."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from opscenter.backends.dataworks.api import Site
from opscenter.domain.records import ActionRefused, ActionResult

POLL_SECONDS = 0.5
POLL_LIMIT = 120
ENDED = ("Fail", "Termination", "Cancel")


def undeploy(site: Site, node: str, task_id: int) -> ActionResult:
    """The pipeline for the task's Data Studio node, polled until the run ends."""
    studio = [
        n
        for n in site.calls.pages(
            "ListNodes",
            "Nodes",
            {"ProjectId": site.project_id, "Scene": "DataworksProject", "Name": node},
            "GET",
        )
        if str(n.get("TaskId")) == str(task_id)
    ]
    if not studio:
        raise ActionRefused(
            f"no Data Studio node is linked to task {node} (#{task_id}); "
            "undeploy it in DataWorks Data Studio"
        )
    run = site.calls.call(
        "CreatePipelineRun",
        {
            "ProjectId": site.project_id,
            "Type": "Offline",
            "ObjectIds": [str(studio[0]["Id"])],
            "Description": f"undeploy {node} from opscenter by {site.user}",
        },
    )["Id"]
    drive(site, str(run))
    return ActionResult(
        "undeploy", [task_id], f"node {node} undeployed in DataWorks (pipeline run {run})"
    )


def drive(site: Site, run: str) -> None:
    """Execute each stage once the one before it succeeded; refuse on a failed,
    cancelled or stuck run, naming the stage and DataWorks' message."""
    key = {"Id": run, "ProjectId": site.project_id}
    for _ in range(POLL_LIMIT):
        pipeline = site.calls.get("GetPipelineRun", key)["Pipeline"]
        stages = sorted(pipeline.get("Stages") or [], key=lambda s: int(s.get("Step") or 0))
        status = pipeline.get("Status")
        if status == "Success":
            return
        if status in ENDED:
            bad: dict[str, Any] = next((s for s in stages if s.get("Status") in ENDED), {})
            raise ActionRefused(
                f"DataWorks pipeline run {run} ended {status}"
                + (f" at stage {bad.get('Name') or bad.get('Code')}" if bad else "")
                + f": {bad.get('Message') or pipeline.get('Message') or 'no message'}"
            )
        if not any(s.get("Status") == "Running" for s in stages):
            waiting = next((s for s in stages if s.get("Status") == "Init"), None)
            if waiting is not None:
                site.calls.call(
                    "ExecPipelineRunStage",
                    {"Id": run, "Code": waiting["Code"]},
                    query={"ProjectId": site.project_id},
                )
                continue
        time.sleep(POLL_SECONDS)
    waited = timedelta(seconds=POLL_LIMIT * POLL_SECONDS)
    raise ActionRefused(
        f"DataWorks pipeline run {run} has not finished after {waited}; follow it in DataWorks"
    )
