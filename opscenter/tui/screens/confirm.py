"""The confirm modal for every dangerous action: the exact targets, Cancel first, `y` to go.

Enter cancels (it is the key a tired hand presses by habit), `esc` and `n` cancel,
only `y` confirms; `l` lists every target when there are more than fit. An action
on instances also says what it does to the baselines they feed: predicted off
the UI thread, so the confirm opens at once and the line fills in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from opscenter.domain.records import NO_BASELINE

SHOWN = 6
IMPACTS_SHOWN = 3  # baseline lines before "… N more"

Impact = Callable[[], list[str] | None]  # impact lines; None: the backend cannot predict


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "confirm", "confirm"),
        Binding("escape,n", "cancel", "cancel"),
        Binding("l", "list_all", "list all"),
    ]

    def __init__(
        self,
        title: str,
        summary: str,
        targets: Sequence[str],
        notes: Sequence[str] = (),
        impact: Impact | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.summary = summary
        self.targets = list(targets)
        self.notes = list(notes)
        self.impact = impact
        self.listing_all = False

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.title_text, style="bold"), id="confirm-title")
            yield Static(Text(self.summary), id="confirm-summary")
            with VerticalScroll(id="confirm-targets"):
                yield Static(self._targets_text(), id="confirm-list")
            for note in self.notes:
                yield Static(Text(note), classes="confirm-note")
            if self.impact is not None:
                yield Static(
                    Text("Baselines: predicting…"), id="confirm-impact", classes="confirm-note"
                )
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Static(Text("  y confirm"), id="confirm-key")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        if self.impact is not None:
            self.run_worker(self._predict, thread=True, group="impact", exit_on_error=False)

    def _predict(self) -> None:
        assert self.impact is not None
        try:
            lines = self.impact()
        except Exception as exc:  # the confirm stands without it; the operator is told
            lines = [f"Baselines: the impact could not be predicted ({exc})"]
        self.app.call_from_thread(self._show_impact, lines)

    def _show_impact(self, lines: list[str] | None) -> None:
        if not self.is_attached:  # answered (y, n, esc) before the prediction came
            return
        line = self.query_one("#confirm-impact", Static)
        if lines is None:
            line.remove()
            return
        shown = lines[:IMPACTS_SHOWN] or [NO_BASELINE]
        hidden = len(lines) - IMPACTS_SHOWN
        if hidden > 0:
            shown.append(f"… {hidden} more baseline{'' if hidden == 1 else 's'}")
        line.update(Text("\n".join(shown)))

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
