"""Handlers of the actions on a node (freeze, unfreeze, undeploy, its instances), the same on
the Nodes list and a node's own screen."""

from __future__ import annotations

from opscenter.domain.records import NodeInfo
from opscenter.tui.actions.base import Aim

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
