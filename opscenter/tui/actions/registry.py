"""Every console action, defined once: a new action is one ``ConsoleAction`` in ``ACTIONS``
(its handler beside its kind, in ``instances``, ``nodes``, ``events`` or ``backfills``).

From this table come the key bindings (``keys``: a screen binds the actions on what it
shows), and through them the palette, help and the footer's hints; and the one read-only
rule (``withheld``) that hides an action there and refuses it in ``perform``, the one way
every action is run, by key or from the palette.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from textual.actions import parse
from textual.binding import Binding

from opscenter.domain.preconditions import read_only_refusal
from opscenter.domain.records import NodeInfo
from opscenter.tui.actions import backfills, events, instances, nodes
from opscenter.tui.actions.base import Aim, ConsoleAction, Pointing, Target
from opscenter.tui.console import Console


def _event(key: str, status: str, hint: str, title: str) -> ConsoleAction:
    return ConsoleAction(
        f"event_{status.lower()}",
        key,
        hint,
        title,
        Target.EVENT,
        events.move,
        tooltip=f"mark the event {status}: {events.MEANINGS[status]}",
        argument=status,
        audit="handle_event",
    )


# in the order the footer hints show them, as many as fit
ACTIONS: dict[str, ConsoleAction] = {
    action.id: action
    for action in (
        ConsoleAction("rerun", "r", "rerun", "Rerun", Target.INSTANCES, instances.rerun),
        ConsoleAction(
            "rerun_downstream",
            "R",
            "rerun+down",
            "Rerun with downstream",
            Target.INSTANCES,
            instances.rerun_downstream,
        ),
        ConsoleAction(
            "set_success",
            "s",
            "set-success",
            "Set success",
            Target.INSTANCES,
            instances.set_success,
        ),
        ConsoleAction("stop", "x", "stop", "Stop", Target.INSTANCES, instances.stop),
        ConsoleAction("freeze", "f", "freeze", "Freeze", Target.INSTANCES, instances.freeze),
        ConsoleAction(
            "unfreeze",
            "u",
            "unfreeze",
            "Unfreeze",
            Target.INSTANCES,
            instances.unfreeze,
            show=False,
        ),
        # emergency operations (spec 6.1): in help and the palette, not the footer
        ConsoleAction(
            "remove_upstream",
            "U",
            "remove upstream",
            "Remove upstream dependencies",
            Target.INSTANCES,
            instances.remove_upstream,
            show=False,
            tooltip="emergency: run without the chosen upstream instances (this instance only)",
        ),
        ConsoleAction(
            "set_priority",
            "p",
            "priority",
            "Change priority",
            Target.INSTANCES,
            instances.set_priority,
            show=False,
            tooltip="emergency: the dispatch priority of instances not finished (1, 3, 5, 7, 8)",
            audit="update",
        ),
        ConsoleAction(
            "move_group",
            "M",
            "move group",
            "Move to resource group",
            Target.INSTANCES,
            instances.move_group,
            show=False,
            tooltip="emergency: run instances not finished in another resource group",
            audit="update",
        ),
        ConsoleAction("freeze_node", "f", "freeze", "Freeze node", Target.NODE, nodes.freeze_node),
        ConsoleAction("backfill", "B", "backfill", "Backfill", Target.NODE, backfills.backfill),
        ConsoleAction(
            "instances", "i", "instances", "Instances", Target.NODE, nodes.instances, changes=False
        ),
        ConsoleAction(
            "unfreeze_node", "u", "unfreeze", "Unfreeze node", Target.NODE, nodes.unfreeze_node
        ),
        ConsoleAction("undeploy", "D", "undeploy", "Undeploy node", Target.NODE, nodes.undeploy),
        ConsoleAction(
            "test_run",
            "T",
            "test run",
            "Test run",
            Target.NODE,
            nodes.test_run,
            show=False,
            tooltip="run the node once for a business date: no upstream waited for, no downstream",
        ),
        ConsoleAction(
            "run_workflow",
            "W",
            "run workflow",
            "Run manual workflow",
            Target.NODE,
            nodes.run_workflow,
            show=False,
            tooltip="a manually triggered node: run its workflow (or chosen nodes of it)",
            audit="run_manual",
        ),
        ConsoleAction(
            "new_backfill",
            "B",
            "new backfill",
            "Backfill",
            Target.BACKFILLS,
            backfills.new_backfill,
            audit="backfill",
        ),
        _event("m", "FIXING", "fixing", "Mark event fixing"),
        _event("v", "RECOVER", "recovered", "Mark event recovered"),
        _event("i", "IGNORE", "ignore", "Ignore event"),
    )
}


def keys(target: Target, *only: str) -> list[Binding]:
    """The bindings of the actions on ``target`` (or of ``only`` those), for a screen's BINDINGS."""
    return [
        a.binding for a in ACTIONS.values() if a.target is target and (not only or a.id in only)
    ]


def actions_on(target: Target) -> list[ConsoleAction]:
    return [a for a in ACTIONS.values() if a.target is target]


def withheld(action: str, readonly: bool) -> bool:
    """``ConsoleAction.withheld`` for a binding's action string: the footer and the palette
    leave such an action out, help says why."""
    _namespace, name, parameters = parse(action)
    if name != "do" or not parameters:
        return False
    return ACTIONS[str(parameters[0])].withheld(readonly)


def _ident(target: Any) -> int | str:
    return target.name if isinstance(target, NodeInfo) else target.id


def _targets(screen: Pointing, target: Target) -> list[Any]:
    if target is Target.INSTANCES:
        return list(screen.instance_targets())
    one = {Target.NODE: screen.node_target, Target.EVENT: screen.event_target}.get(target)
    found = one() if one is not None else None
    return [found] if found is not None else []


def perform(console: Console, screen: Pointing, action_id: str) -> Awaitable[None] | None:
    """Run an action on what ``screen`` points at: refused (said and audited) on nothing,
    or on a read-only console; otherwise its handler, which confirms what changes."""
    action = ACTIONS[action_id]
    found = _targets(screen, action.target)
    if action.target.pointed and not found:
        nothing = f"no {action.target.value} under the cursor"
        if action.changes:
            console.refuse(action.audited, [], nothing)
        else:
            console.notify(nothing, severity="warning")
        return None
    ids = [_ident(t) for t in found] + ([action.argument] if action.argument else [])
    if action.withheld(console.readonly):
        console.refuse(
            action.audited, ids, read_only_refusal(action.title, console.info.readonly_why)
        )
        return None
    return action.handler(Aim(console, screen, action, found, ids))
