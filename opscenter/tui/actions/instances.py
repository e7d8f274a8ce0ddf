"""Handlers of the actions on instances (rerun, rerun with downstream, set success, stop,
freeze, unfreeze, and the emergency operations: remove upstream dependencies, change
priority or resource group), wherever instances are listed or shown.

Each one names its exact targets in the confirm and what it does to the baselines they
feed. A rerun with downstream asks the backend first what it would reset (it runs the
rerun and rolls it back), so the confirm lists every descendant, or shows the refusal
before anything is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from opscenter.backends.base import Backend
from opscenter.domain.model import Status
from opscenter.domain.preconditions import PRIORITIES, priority_refusal
from opscenter.domain.records import ActionRefused, ActionResult, InstanceInfo, counted
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Aim, Handler
from opscenter.tui.console import Console
from opscenter.tui.screens.action_form import ActionForm, Answer, Ask, Choice, answered
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


# -- emergency operations (spec 6.1): a form, then the confirm --------------------------

COMMENT = Ask("comment", "Comment (why; audited)")


def commented(answer: Answer) -> list[str]:
    """The confirm's note of the operator's comment, as the backend will audit it."""
    comment = answer.values["comment"]
    return [f"Comment: {comment}" if comment else "No comment given."]


def remove_upstream(aim: Aim) -> None:
    """Ask the backend first (it refuses a status the removal does not apply to), then list
    the upstream instances, the ones not SUCCESS chosen, then confirm with the baselines."""
    console = aim.console
    if len(aim.targets) != 1:
        aim.refuse("remove upstream acts on one instance at a time: select one")
        return
    target: InstanceInfo = aim.targets[0]

    def read() -> None:
        try:
            console.backend.remove_upstream(target.id, preview=True)
            ups = [
                r.instance
                for r in console.backend.relatives(target.id, "up")
                if r.level == 1 and r.removed is None  # one removed before is waited for no more
            ]
        except ActionRefused as refused:  # a preview audits nothing: the refusal is ours
            console.call_from_thread(aim.refuse, refused.reason, severity="error")
            return
        except Exception as exc:
            console.call_from_thread(console.backend_failed, exc)
            return
        console.call_from_thread(ask, ups)

    def ask(ups: list[InstanceInfo]) -> None:
        choices = [
            Choice(
                str(u.id),
                f"{fmt.instance_status(u, short=True)} {_named(u)}",
                u.status is not Status.SUCCESS,
            )
            for u in ups
        ]
        console.push_screen(
            ActionForm(
                aim.action.title,
                f"{label(target)} waits for these upstream instances; it will run without "
                "the chosen ones ([x]):",
                [COMMENT],
                choices,
                empty="choose at least one upstream instance (space)",
            ),
            answered(lambda answer: confirm(answer, {u.id: u for u in ups})),
        )

    def confirm(answer: Answer, ups: dict[int, InstanceInfo]) -> None:
        chosen = [int(key) for key in answer.chosen]
        comment = answer.values["comment"]
        console.act(
            aim.action.title,
            f"This instance will no longer wait for {counted(len(chosen), 'upstream instance')} "
            "(this instance only; the node and its other instances keep their dependencies):",
            [label(target), *(f"✂ {label(ups[i])}" for i in chosen)],
            lambda backend: backend.remove_upstream(target.id, chosen, comment),
            notes=commented(answer),
            impact=impact(console, "remove_upstream", [target.id]),
            done=aim.screen.acted,
        )

    console.run_worker(read, thread=True, group="action", exit_on_error=False)


def _named(info: InstanceInfo) -> str:
    return f"{info.node} {fmt.cyctime(info.cyctime)} #{info.id}"


def _priority(text: str) -> str | None:
    """The form's check: the domain's refusal, as the command line gives it."""
    if text.isdecimal():
        return priority_refusal(int(text))
    return f"{text or 'nothing'} is not a priority: one of {', '.join(map(str, PRIORITIES))}"


def _update(
    aim: Aim,
    ask: Ask,
    summary: Callable[[str], str],
    line: Callable[[InstanceInfo], str],
    call: Callable[[Backend, list[int], str, str], ActionResult],
) -> None:
    """Ask one new value (and a comment) for the instances aimed at, then confirm with each
    target's current value and change them with ``call(backend, ids, value, comment)``."""
    ids, first = _ids(aim), aim.targets[0]

    def confirm(answer: Answer) -> None:
        value, comment = answer.values[ask.name], answer.values["comment"]
        aim.console.act(
            aim.action.title,
            summary(value),
            [line(t) for t in aim.targets],
            lambda backend: call(backend, ids, value, comment),
            notes=commented(answer),
            done=aim.screen.acted,
        )

    aim.console.push_screen(
        ActionForm(
            aim.action.title,
            f"{counted(len(ids), 'instance')}: {_named(first)}"
            + (f" and {len(ids) - 1} more" if len(ids) > 1 else ""),
            [ask, COMMENT],
        ),
        answered(confirm),
    )


def set_priority(aim: Aim) -> None:
    _update(
        aim,
        Ask("priority", "Priority (1, 3, 5, 7, 8)", str(aim.targets[0].priority), _priority),
        lambda value: (
            f"{counted(len(aim.targets), 'instance')} will run at priority {value} "
            "(the dispatch order follows at once):"
        ),
        lambda t: f"{label(t)} priority {t.priority}",
        lambda backend, ids, value, comment: backend.update_instances(
            ids, priority=int(value), comment=comment
        ),
    )


def move_group(aim: Aim) -> None:
    _update(
        aim,
        Ask(
            "group",
            "Resource group",
            aim.targets[0].resource_group,
            lambda text: None if text else "name a resource group",
        ),
        lambda value: (
            f"{counted(len(aim.targets), 'instance')} will run in resource group "
            f"{value} (its slots apply at once):"
        ),
        lambda t: f"{label(t)} in {t.resource_group}",
        lambda backend, ids, value, comment: backend.update_instances(
            ids, resource_group=value, comment=comment
        ),
    )
