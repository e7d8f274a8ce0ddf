"""The confirm modal for every dangerous action: the exact targets, Cancel first, `y` to go.

Enter cancels (it is the key a tired hand presses by habit), `esc` and `n` cancel,
only `y` confirms; `l` lists every target when there are more than fit.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

SHOWN = 6


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "confirm", "confirm"),
        Binding("escape,n", "cancel", "cancel"),
        Binding("l", "list_all", "list all"),
    ]

    def __init__(
        self, title: str, summary: str, targets: Sequence[str], notes: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.targets = list(targets)
        self.notes = list(notes)
        self.listing_all = False

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.title_text, style="bold"), id="confirm-title")
            yield Static(Text(self.summary), id="confirm-summary")
            with VerticalScroll(id="confirm-targets"):
                yield Static(self._targets_text(), id="confirm-list")
            for note in self.notes:
                yield Static(Text(note), classes="confirm-note")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Static(Text("  y confirm"), id="confirm-key")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def _targets_text(self) -> Text:
        shown = self.targets if self.listing_all else self.targets[:SHOWN]
        text = Text("\n".join(f"  {t}" for t in shown))
        hidden = len(self.targets) - len(shown)
        if hidden:
            text.append(f"\n  … {hidden} more (l to list)")
        return text

    def action_list_all(self) -> None:
        self.listing_all = True
        self.query_one("#confirm-list", Static).update(self._targets_text())

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(False)
