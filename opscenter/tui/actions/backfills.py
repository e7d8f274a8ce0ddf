"""Handlers that open the backfill form: for the node under the cursor, or (on the Backfills
list) for a node asked for first, checked against the deployed nodes."""

from __future__ import annotations

from opscenter.domain.records import NodeFilter, NodeInfo
from opscenter.tui.actions.base import Aim
from opscenter.tui.screens.backfill_form import BackfillForm
from opscenter.tui.screens.prompt import PromptScreen


def backfill(aim: Aim) -> None:
    node: NodeInfo = aim.targets[0]
    aim.console.push_screen(BackfillForm(node.name, aim.console.day_in_view()))


def new_backfill(aim: Aim) -> None:
    console = aim.console
    backend = console.backend

    def ask(names: list[str]) -> None:
        known = set(names)

        def check(answer: str) -> str | None:
            if answer in known:
                return None
            near = [n for n in names if answer and answer.lower() in n.lower()][:6]
            return f"no deployed node {answer!r}" + (
                f"; did you mean {', '.join(near)}?" if near else ""
            )

        def chosen(answer: str | None) -> None:
            if answer:
                console.push_screen(BackfillForm(answer, console.day_in_view()))

        console.push_screen(
            PromptScreen("Backfill which node?", "a deployed node's exact name", check=check),
            chosen,
        )

    aim.screen.read(lambda: [n.name for n in backend.list_nodes(NodeFilter())], ask)
