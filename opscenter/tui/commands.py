"""ctrl+p: every action of the screen in view, plus "go to" any screen, node or instance.

The node names are read once when the palette opens, and an instance number
is looked up as it is typed, both in a thread: the palette never waits on the
backend. Actions come from the calling screen's own bindings, so the palette
offers exactly what the keys do there (read-only drops the dangerous ones).
A node or instance named in the ``:`` prompt is looked up first in the same way
(``go_to_node``, ``go_to_instance``), so a mistyped one is said and nothing opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape
from textual.screen import Screen

from opscenter.domain.records import ActionRefused, NodeInfo
from opscenter.tui import format as fmt
from opscenter.tui import theming
from opscenter.tui.actions import registry
from opscenter.tui.console import Console, OnConsole
from opscenter.tui.widgets.chrome import TABS

SCREEN_NAMES = {
    "dashboard": "Dashboard",
    "nodes": "Nodes",
    "instances": "Instances",
    "backfills": "Backfills",
    "baselines": "Baselines",
    "alerts": "Alerts & events",
    "audit": "Audit log",
}
# the palette's own commands cover these; noop only names a key the table handles; Textual's
# own keys (focus, copy, quit) are not operator actions, and its system commands offer "Quit"
SKIPPED_ACTIONS = frozenset(
    {
        "noop",
        "command_palette",
        "switch_mode",
        *(b.action for b in (*Screen.BINDINGS, *App.BINDINGS) if isinstance(b, Binding)),
    }
)


def go_to_node(console: Console, name: str) -> None:
    """``:node NAME``: the node's screen once the backend knows the name."""
    _go_to(console, lambda: console.backend.get_node(name), lambda: console.open_node(name))


def go_to_instance(console: Console, instance_id: int) -> None:
    """``:instance N``: the instance's screen once the backend knows the number."""
    _go_to(
        console,
        lambda: console.backend.get_instance(instance_id),
        lambda: console.open_instance(instance_id),
    )


def _go_to(console: Console, ask: Callable[[], object], go: Callable[[], None]) -> None:
    """Ask in a thread, then go. A refusal ("no node 'nosuch' in workspace shop") is said
    and the console stays where it was: the backend answered, so the header stays fresh
    (a screen opened on a name that is not there would wait on "loading…" and call the
    backend stale)."""

    def work() -> None:
        try:
            ask()
        except ActionRefused as refused:
            console.call_from_thread(_refused, console, refused.reason)
            return
        except Exception as exc:  # the backend did not answer: stale, as any read says
            console.call_from_thread(console.backend_failed, exc)
            return
        console.call_from_thread(_found, console, go)

    console.run_worker(work, thread=True, group="go-to", exit_on_error=False)


def _refused(console: Console, reason: str) -> None:
    console.backend_answered()
    console.notify(reason, severity="error")


def _found(console: Console, go: Callable[[], None]) -> None:
    console.backend_answered()
    go()


@dataclass(frozen=True)
class Command:
    text: str
    run: Callable[[], Any]
    help: str = ""


def highlight(matcher: Matcher, candidate: str) -> Content:
    """The candidate with its matched letters marked, never parsed as markup."""
    content = Content(candidate)
    _score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    for offset in offsets:
        if not candidate[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class OpsCommands(OnConsole, Provider):
    """Go to a screen, node or instance; run this screen's actions; pick a date or a theme."""

    nodes: list[NodeInfo]
    themes: list[str]

    async def startup(self) -> None:
        try:
            self.nodes = await asyncio.to_thread(self.console.backend.list_nodes)
        except Exception as exc:  # the palette still works without the nodes
            self.nodes = []
            self.console.notify(f"node names unavailable: {exc}", severity="warning")
        self.themes = await asyncio.to_thread(theming.theme_names)

    # -- what the palette offers ------------------------------------------------------------

    def screen_commands(self) -> Iterator[Command]:
        for key, mode, _title in TABS:
            yield Command(
                f"Go to {SCREEN_NAMES[mode]}",
                partial(self.console.action_switch_mode, mode),
                f"key {key}",
            )

    def action_commands(self) -> Iterator[Command]:
        """The calling screen's bindings (and the app's), each run where it is bound."""
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            name = binding.action.split("(")[0]
            if (
                active.node not in (self.screen, self.app)
                or not binding.description
                or not active.enabled
                or binding.system
                or name in SKIPPED_ACTIONS
                or binding.action in seen
                or registry.withheld(binding.action, self.console.readonly)
            ):
                continue
            seen.add(binding.action)
            description = binding.description[0].upper() + binding.description[1:]
            yield Command(
                f"{description} ({self.app.get_key_display(binding)})",
                partial(self.app.run_action, binding.action, active.node),
                escape(binding.tooltip),
            )

    def bizdate_commands(self) -> Iterator[Command]:
        today = self.console.local_now().date()
        for word, day in (("yesterday", self.console.default_bizdate()), ("today", today)):
            yield Command(
                f"Business date: {word}",
                partial(self.console.set_bizdate, day),
                day.isoformat(),
            )
        yield Command("Business date: pick", self.console.action_pick_bizdate, "yyyy-mm-dd or any")

    def node_commands(self) -> Iterator[Command]:
        for node in self.nodes:
            yield Command(
                f"Go to node {node.name}",
                partial(self.console.open_node, node.name),
                escape(f"{node.type} · {node.owner} · {node.schedule}"),
            )

    def theme_commands(self) -> Iterator[Command]:
        for name in self.themes:
            yield Command(f"Theme: {name}", partial(setattr, self.app, "theme", name))

    def commands(self) -> Iterator[Command]:
        yield from self.action_commands()
        yield from self.screen_commands()
        yield from self.bizdate_commands()
        yield from self.node_commands()
        yield from self.theme_commands()

    async def instance_hit(self, instance_id: int) -> Hit | None:
        """'Go to instance #N' when N exists, with its node and status to be sure."""
        try:
            info = await asyncio.to_thread(self.console.backend.get_instance, instance_id)
        except Exception:  # no such instance (or no backend): nothing to offer
            return None
        text = f"Go to instance #{instance_id}"
        return Hit(
            1.0,
            Content(text),
            partial(self.console.open_instance, instance_id),
            text=text,
            help=escape(f"{info.node} · {fmt.cyctime(info.cyctime)} · {fmt.instance_status(info)}"),
        )

    # -- the Provider API -------------------------------------------------------------------

    async def discover(self) -> Hits:
        for group in (self.action_commands(), self.screen_commands(), self.bizdate_commands()):
            for command in group:
                yield DiscoveryHit(Content(command.text), command.run, command.text, command.help)

    async def search(self, query: str) -> Hits:
        number = query.strip().lstrip("#")
        if number.isdigit():
            hit = await self.instance_hit(int(number))
            if hit is not None:
                yield hit
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, command.text),
                    command.run,
                    text=command.text,
                    help=command.help,
                )
