"""Handlers of the actions on instances (rerun, rerun with downstream, set success, stop,
freeze, unfreeze), wherever instances are listed or shown.

Each one names its exact targets in the confirm and what it does to the baselines they
feed. A rerun with downstream asks the backend first what it would reset (it runs the
rerun and rolls it back), so the confirm lists every descendant, or shows the refusal
before anything is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opscenter.backends.base import Backend
from opscenter.domain.records import ActionRefused, ActionResult, InstanceInfo, counted
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Aim, Handler
from opscenter.tui.console import Console
from opscenter.tui.screens.confirm import Impact

PREVIEW_LIMIT = 500  # descendants named one by one in a confirm


def label(info: InstanceInfo) -> str:
    return f"{info.node} {fmt.cyctime(info.cyctime)} ({info.status.value}) #{info.id}"


def impact(console: Console, action: str, ids: Sequence[int]) -> Impact:
    """The confirm's baseline lines: the prediction with the action applied to ``ids``."""

    def lines() -> list[str] | None:
        found = console.backend.baseline_impact(action, ids)
        return None if found is None else [i.describe(console.zone) for i in found]

    return lines


def _ids(aim: Aim) -> list[int]:
    return [t.id for t in aim.targets]


def _simple(effect: str, call: Callable[[Backend, list[int]], ActionResult]) -> Handler:
    """An action confirmed with its targets and done in one backend call."""

    def handle(aim: Aim) -> None:
        ids = _ids(aim)
        aim.console.act(
            aim.action.title,
            f"{counted(len(ids), 'instance')} {effect}:",
            [label(t) for t in aim.targets],
            lambda backend: call(backend, ids),
            impact=impact(aim.console, aim.action.id, ids),
            done=aim.screen.acted,
        )

    return handle


set_success = _simple(
    "will be marked SUCCESS without running; their downstream may start",
    lambda backend, ids: backend.set_success(ids),
)
stop = _simple(
    "will be stopped (a running process is terminated) and marked FAILURE",
    lambda backend, ids: backend.stop(ids),
)
freeze = _simple(
    "will be frozen: they do not run, and their downstream waits",
    lambda backend, ids: backend.freeze(ids),
)
unfreeze = _simple(
    "will be unfrozen and run when their upstream instances succeed",
    lambda backend, ids: backend.unfreeze(ids),
)
rerun = _simple("will be reset to NOT_RUN and rerun", lambda backend, ids: backend.rerun(ids))


def rerun_downstream(aim: Aim) -> None:
    """Preview what the rerun resets (off the UI thread), then confirm with all of it."""
    console, ids = aim.console, _ids(aim)

    def preview() -> None:
        try:
            result = console.backend.preview_rerun(ids, downstream=True)
            below = [i for i in result.affected if i not in ids][:PREVIEW_LIMIT]
            infos = [console.backend.get_instance(i) for i in below]
        except ActionRefused as refused:  # a preview audits nothing: the refusal is ours
            console.call_from_thread(aim.refuse, refused.reason, severity="error")
            return
        except Exception as exc:
            console.call_from_thread(console.backend_failed, exc)
            return
        more = len(result.affected) - len(ids)
        summary = (
            f"{counted(len(ids), 'instance')} and {counted(more, 'downstream instance')} "
            "will be reset and rerun:"
        )
        lines = [label(t) for t in aim.targets] + [f"↓ {label(i)}" for i in infos]
        console.call_from_thread(
            console.act,
            aim.action.title,
            summary,
            lines,
            lambda backend: backend.rerun(ids, downstream=True),
            impact=impact(console, "rerun", result.affected),  # the previewed descendants too
            done=aim.screen.acted,
        )

    console.run_worker(preview, thread=True, group="action", exit_on_error=False)
