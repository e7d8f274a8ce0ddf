"""Handlers of the actions on a node (freeze, unfreeze, undeploy, its instances, a test run,
a run of its manual workflow), the same on the Nodes list and a node's own screen."""

from __future__ import annotations

from datetime import date

from opscenter.domain.model import TriggerType
from opscenter.domain.records import NodeFilter, NodeInfo, counted
from opscenter.tui.actions.base import Aim
from opscenter.tui.actions.instances import COMMENT, commented
from opscenter.tui.screens.action_form import ActionForm, Answer, Ask, Choice, answered

FREEZE = (
    "This node will be frozen: its instances generated from now on (the next day onward) are "
    "FROZEN and do not run, and their downstream waits; instances already generated still run."
)
UNFREEZE = (
    "This node will be unfrozen: instances generated from now on run normally; instances "
    "already FROZEN stay frozen until unfrozen one by one."
)


def _node(aim: Aim) -> NodeInfo:
    node: NodeInfo = aim.targets[0]
    return node


def freeze_node(aim: Aim) -> None:
    name = _node(aim).name
    aim.console.act(aim.action.title, FREEZE, [name], lambda backend: backend.freeze_node(name))


def unfreeze_node(aim: Aim) -> None:
    name = _node(aim).name
    aim.console.act(aim.action.title, UNFREEZE, [name], lambda backend: backend.unfreeze_node(name))


def undeploy(aim: Aim) -> None:
    """Say what undeploy does, and what the backend will refuse, before `y` is asked for."""
    info = _node(aim)
    notes = []
    if info.name == f"{aim.console.info.name}_root":
        notes.append("This is the workspace root: the backend refuses to undeploy it.")
    if info.downstreams:
        notes.append(
            f"Deployed nodes depend on it ({', '.join(info.downstreams)}): the backend "
            "refuses until they are undeployed first."
        )
    aim.console.act(
        aim.action.title,
        "This node will be undeployed: no new instances are generated for it, and its "
        "unfinished instances dry-run (succeed without running).",
        [info.name],
        lambda backend: backend.undeploy(info.name),
        notes=notes,
    )


async def instances(aim: Aim) -> None:
    """The node's instances of the date in view, on the Instances screen."""
    await aim.console.show_instances(node=_node(aim).name)


def _bizdate(aim: Aim) -> Ask:
    """The business date to run for: the console's, which the operator may change."""
    return Ask("bizdate", "Business date (yyyy-mm-dd)", str(aim.console.day_in_view()), _not_date)


def _not_date(text: str) -> str | None:
    try:
        date.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a date (yyyy-mm-dd)"
    return None


def test_run(aim: Aim) -> None:
    info = _node(aim)

    def confirm(answer: Answer) -> None:
        day, comment = date.fromisoformat(answer.values["bizdate"]), answer.values["comment"]
        aim.console.act(
            aim.action.title,
            f"One test instance of this node will run for business date {day}, with that "
            "date's parameters, without waiting for its upstream; its downstream does not run:",
            [info.name],
            lambda backend: backend.test_run(info.name, day, comment=comment),
            notes=commented(answer),
        )

    aim.console.push_screen(
        ActionForm(
            aim.action.title,
            f"Run {info.name} once, as a test instance.",
            [_bizdate(aim), COMMENT],
        ),
        answered(confirm),
    )


def run_workflow(aim: Aim) -> None:
    """A manual node's workflow: its nodes listed, every one chosen; the confirm names the
    ones that will run (all of them: the whole workflow, in dependency order)."""
    info, console = _node(aim), aim.console
    if not info.manual:
        aim.refuse(
            f"{info.name} is auto-triggered (the scheduler runs it): only a manually "
            "triggered node's workflow runs on demand; a test run (T) runs this node once"
        )
        return
    workflow = info.workflow

    def read() -> list[str]:
        found = console.backend.list_nodes(NodeFilter(trigger=TriggerType.MANUAL))
        return [n.name for n in found if n.workflow == workflow]

    def ask(members: list[str]) -> None:
        console.push_screen(
            ActionForm(
                aim.action.title,
                f"Workflow {workflow}: the chosen nodes ([x]) run, in dependency order.",
                [_bizdate(aim), COMMENT],
                [Choice(name, name, True) for name in members],
                empty="choose at least one node (space)",
            ),
            answered(lambda answer: confirm(answer, members)),
        )

    def confirm(answer: Answer, members: list[str]) -> None:
        day, comment = date.fromisoformat(answer.values["bizdate"]), answer.values["comment"]
        chosen = answer.chosen
        nodes = () if chosen == members else tuple(chosen)  # all of them: the workflow
        console.act(
            aim.action.title,
            f"Workflow {workflow} will run for business date {day}: "
            f"{'every node' if not nodes else counted(len(nodes), 'node')} of it, "
            "in dependency order, as manual instances:",
            chosen,
            lambda backend: backend.run_manual(workflow, day, nodes, comment=comment),
            notes=commented(answer),
        )

    aim.screen.read(read, ask)  # off the UI thread, as every screen reads
