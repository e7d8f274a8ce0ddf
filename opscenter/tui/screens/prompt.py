"""A one-line question (a business date, an owner, a command): Enter answers, esc leaves."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value; ``check`` returns an error to show, or None when it is fine."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self,
        question: str,
        hint: str = "",
        value: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.hint = hint
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Static(Text(self.question, style="bold"))
            yield Input(value=self.value, id="prompt-input")
            yield Static(Text(self.hint), id="prompt-hint")

    async def on_key(self, event: events.Key) -> None:
        """Keys that reached the prompt before its field had the focus are the answer (an
        Enter too: the field's submit is awaited, or it would never post the answer)."""
        field = self.query_one("#prompt-input", Input)
        if field.has_focus or event.key == "escape":
            return
        event.stop()
        event.prevent_default()
        self.set_focus(field)
        if event.key == "enter":
            await field.action_submit()
        elif event.is_printable and event.character:
            # it replaces the value, as typing into the focused field would; and the focus,
            # which lands after this key, must not select it for the next key to replace
            field.select_on_focus = False
            field.value = event.character
            field.cursor_position = len(field.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        answer = event.value.strip()
        problem = self.check(answer) if self.check else None
        if problem:
            self.query_one("#prompt-hint", Static).update(Text(problem, style="bold"))
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
