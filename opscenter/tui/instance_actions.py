"""Operator actions on instances, shared by the Instances list and the instance detail.

Each one names its exact targets in the confirm. A rerun with downstream asks
the backend first what it would reset (it runs the rerun and rolls it back),
so the confirm lists every descendant, or shows the refusal before anything
is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.binding import Binding

from opscenter.domain.records import ActionRefused, ActionResult, InstanceInfo
from opscenter.tui import format as fmt
from opscenter.tui.screens.confirm import Impact

if TYPE_CHECKING:
    from opscenter.tui.app import OpsApp

PREVIEW_LIMIT = 500  # targets named one by one in a confirm
NOTHING = "no instance under the cursor"


def label(info: InstanceInfo) -> str:
    return f"{info.node} {fmt.cyctime(info.cyctime)} ({info.status.value}) #{info.id}"


def impact(app: OpsApp, action: str, ids: Sequence[int]) -> Impact:
    """The confirm's baseline lines: the prediction with the action applied to ``ids``."""

    def lines() -> list[str] | None:
        found = app.backend.baseline_impact(action, ids)
        return None if found is None else [i.describe(app.zone) for i in found]

    return lines


def _count(n: int) -> str:
    return f"{n} instance" + ("" if n == 1 else "s")


# action id -> (title, what happens, backend call)
SIMPLE: dict[str, tuple[str, str, Callable]] = {
    "set_success": (
        "Set success",
        "will be marked SUCCESS without running; their downstream may start",
        lambda b, ids: b.set_success(ids),
    ),
    "stop": (
        "Stop",
        "will be stopped (a running process is terminated) and marked FAILURE",
        lambda b, ids: b.stop(ids),
    ),
    "freeze": (
        "Freeze",
        "will be frozen: they do not run, and their downstream waits",
        lambda b, ids: b.freeze(ids),
    ),
    "unfreeze": (
        "Unfreeze",
        "will be unfrozen and run when their upstream instances succeed",
        lambda b, ids: b.unfreeze(ids),
    ),
}


def simple(
    app: OpsApp,
    action: str,
    targets: Sequence[InstanceInfo],
    done: Callable[[ActionResult], None] | None = None,
) -> None:
    if not targets:
        app.refuse(action, [], NOTHING)
        return
    title, effect, call = SIMPLE[action]
    ids = [t.id for t in targets]
    app.act(
        action,
        title,
        f"{_count(len(ids))} {effect}:",
        [label(t) for t in targets],
        lambda backend: call(backend, ids),
        ids=ids,
        impact=impact(app, action, ids),
        done=done,
    )


def rerun(
    app: OpsApp,
    targets: Sequence[InstanceInfo],
    downstream: bool,
    done: Callable[[ActionResult], None] | None = None,
) -> None:
    action = "rerun_downstream" if downstream else "rerun"
    if not targets:
        app.refuse(action, [], NOTHING)
        return
    ids = [t.id for t in targets]
    title = "Rerun with downstream" if downstream else "Rerun"
    if not downstream:
        app.act(
            action,
            title,
            f"{_count(len(ids))} will be reset to NOT_RUN and rerun:",
            [label(t) for t in targets],
            lambda backend: backend.rerun(ids),
            ids=ids,
            impact=impact(app, "rerun", ids),
            done=done,
        )
        return
    if app.refused_read_only(action, title, ids):
        return

    def preview() -> None:
        try:
            result = app.backend.preview_rerun(ids, downstream=True)
            below = [i for i in result.affected if i not in ids][:PREVIEW_LIMIT]
            infos = [app.backend.get_instance(i) for i in below]
        except ActionRefused as refused:  # a preview audits nothing: the refusal is ours
            app.call_from_thread(app.refuse, action, ids, refused.reason, severity="error")
            return
        except Exception as exc:
            app.call_from_thread(app.backend_failed, exc)
            return
        more = len(result.affected) - len(ids)
        summary = (
            f"{_count(len(ids))} and {more} downstream instance"
            f"{'' if more == 1 else 's'} will be reset and rerun:"
        )
        lines = [label(t) for t in targets] + [f"↓ {label(i)}" for i in infos]
        app.call_from_thread(
            app.act,
            action,
            title,
            summary,
            lines,
            lambda backend: backend.rerun(ids, downstream=True),
            ids=ids,
            impact=impact(app, "rerun", result.affected),  # the previewed descendants too
            done=done,
        )

    app.run_worker(preview, thread=True, group="action", exit_on_error=False)


BINDINGS = [
    Binding("r", "rerun", "rerun", id="rerun"),
    Binding("R", "rerun_downstream", "rerun+down", id="rerun-down"),
    Binding("s", "set_success", "set-success", id="set-success"),
    Binding("x", "stop", "stop", id="stop"),
    Binding("f", "freeze", "freeze", id="freeze"),
    Binding("u", "unfreeze", "unfreeze", show=False, id="unfreeze"),
]


class InstanceActions:
    """r R s x f u on the instances a screen points at: its ``instance_targets()``."""

    app: OpsApp

    def instance_targets(self) -> list[InstanceInfo]:
        raise NotImplementedError

    def acted(self, result: ActionResult) -> None:
        """After an action succeeded (a list clears its selection)."""

    def action_rerun(self) -> None:
        rerun(self.app, self.instance_targets(), False, self.acted)

    def action_rerun_downstream(self) -> None:
        rerun(self.app, self.instance_targets(), True, self.acted)

    def action_set_success(self) -> None:
        simple(self.app, "set_success", self.instance_targets(), self.acted)

    def action_stop(self) -> None:
        simple(self.app, "stop", self.instance_targets(), self.acted)

    def action_freeze(self) -> None:
        simple(self.app, "freeze", self.instance_targets(), self.acted)

    def action_unfreeze(self) -> None:
        simple(self.app, "unfreeze", self.instance_targets(), self.acted)
