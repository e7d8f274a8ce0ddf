"""`?`: every key that works here, generated from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from opscenter.tui.actions import registry


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "close")]

    def __init__(self, behind: Screen, readonly: bool) -> None:
        super().__init__()
        self.behind = behind
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._table())
            yield Static(Text("esc close", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help", VerticalScroll).focus()

    def _table(self) -> Table:
        table = Table(title="Keys", expand=True, show_edge=False, box=None, padding=(0, 1))
        table.add_column("key", no_wrap=True)
        table.add_column("does")
        keys: dict[str, list[str]] = {}
        words: dict[str, str] = {}
        for active in self.behind.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            keys.setdefault(binding.action, []).append(self.app.get_key_display(binding))
            # the footer's word, and where a screen's key needs more (what `e` finds), its
            # tooltip (Textual's own keys are said by their word alone)
            does = binding.description
            if binding.tooltip and active.node is not self.app:
                does += f": {binding.tooltip}"
            words.setdefault(binding.action, does)
        for action, shown in keys.items():
            does = words[action]
            if registry.withheld(action, self.readonly):
                does += " (unavailable: read-only)"
            table.add_row(Text(",".join(dict.fromkeys(shown)), style="bold"), Text(does))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
