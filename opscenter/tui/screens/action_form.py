"""What an emergency operation or a run on demand asks before its confirm: which of a list
(upstream instances to remove, nodes of a workflow to run), a value or two (a priority, a
resource group, a business date) and the operator's comment, which the backend audits.

No mouse: the list has the focus first, `space` toggles its row (``[x]`` / ``[ ]``, read
without colour), `tab` goes to the next field, Enter goes on to the confirm, `esc` leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from opscenter.tui.screens.backfill_form import Field
from opscenter.tui.widgets.rowlist import CURSOR_MARK

HINT = "space toggle · tab next field · enter go on · esc cancel"


@dataclass(frozen=True)
class Ask:
    """One field: its label, its first value, and a check (the problem to show, or None)."""

    name: str
    label: str
    value: str = ""
    check: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Choice:
    """One row of the list: what it answers (``key``), how it reads, whether it starts chosen."""

    key: str
    label: str
    chosen: bool


@dataclass(frozen=True)
class Answer:
    chosen: list[str]  # the keys of the rows chosen, in the list's order
    values: dict[str, str]  # each field by name, stripped


def answered(go: Callable[[Answer], None]) -> Callable[[Answer | None], None]:
    """The form's callback: ``go`` on an answer, nothing when the operator left."""

    def then(answer: Answer | None) -> None:
        if answer is not None:
            go(answer)

    return then


class Choices(OptionList):
    """``▸ [x] label`` rows: space toggles the row under the cursor (``▸``)."""

    BINDINGS = [
        Binding("space", "flip", "toggle", show=False),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]

    def __init__(self, choices: Sequence[Choice], *, id: str) -> None:
        self.choices = list(choices)
        self.chosen = {c.key for c in choices if c.chosen}
        options = (Option(self._line(c, here=False), id=c.key) for c in choices)
        super().__init__(*options, id=id, compact=True)

    def _line(self, choice: Choice, *, here: bool) -> Text:
        cursor = CURSOR_MARK if here else " " * len(CURSOR_MARK)
        return Text(f"{cursor}[{'x' if choice.key in self.chosen else ' '}] {choice.label}")

    def _prompt(self, index: int) -> Text:
        return self._line(self.choices[index], here=index == self.highlighted)

    def on_mount(self) -> None:
        self.watch(self, "highlighted", self._moved)

    def _moved(self, before: int | None, now: int | None) -> None:
        for index in {before, now} - {None}:
            assert index is not None
            self.replace_option_prompt_at_index(index, self._prompt(index))

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_flip(self) -> None:
        if self.highlighted is not None:
            self.chosen ^= {self.choices[self.highlighted].key}
            self.replace_option_prompt_at_index(self.highlighted, self._prompt(self.highlighted))

    def answer(self) -> list[str]:
        return [c.key for c in self.choices if c.key in self.chosen]


class ActionForm(ModalScreen[Answer | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    DEFAULT_CSS = """
    ActionForm {
        align: center middle;
        background: $background 60%;
    }
    #action-form {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $warning;
        background: $surface;
        padding: 0 1;
    }
    #form-choices {
        height: auto;
        max-height: 7;
    }
    #form-hint {
        color: $foreground-muted;
    }
    """

    def __init__(
        self,
        title: str,
        intro: str,
        fields: Sequence[Ask],
        choices: Sequence[Choice] = (),
        empty: str = "",
    ) -> None:
        """``empty``: what to say when the list has no row chosen (no list: ``choices`` empty)."""
        super().__init__()
        self.title_text = title
        self.intro = intro
        self.fields = list(fields)
        self.choices = list(choices)
        self.empty = empty

    def compose(self) -> ComposeResult:
        with Vertical(id="action-form"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text(self.intro))
            if self.choices:
                yield Choices(self.choices, id="form-choices")
            for ask in self.fields:
                yield Static(Text(ask.label))
                yield Field(value=ask.value, id=f"form-{ask.name}")
            yield Static(Text(HINT if self.choices else HINT.split(" · ", 1)[1]), id="form-hint")

    def on_mount(self) -> None:
        first = self.query_one("#form-choices" if self.choices else Field)
        first.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()  # Enter on the list goes on, as it does in a field; space toggles
        self._go_on()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._go_on()

    def _go_on(self) -> None:
        chosen = self.query_one(Choices).answer() if self.choices else []
        if self.choices and not chosen:
            self._problem(self.empty, self.query_one(Choices))
            return
        values = {}
        for ask in self.fields:
            field = self.query_one(f"#form-{ask.name}", Field)
            value = field.value.strip()
            problem = ask.check(value) if ask.check else None
            if problem:
                self._problem(problem, field)
                return
            values[ask.name] = value
        self.dismiss(Answer(chosen, values))

    def _problem(self, problem: str, where: Input | OptionList) -> None:
        self.query_one("#form-hint", Static).update(Text(problem, style="bold"))
        where.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
