"""A short focusable list of rich Text rows, each bound to a record, kept in place on refresh.

The dashboard's panels and a baseline's key path and events are a few dozen rows
at most, so Textual's OptionList holds them whole; this adds the vim keys, a
record per row, a refresh that keeps the cursor on the same key instead of
jumping to the top every two seconds, and (asked for) a gutter that marks the
cursor row of the focused list with a glyph, which reads without colour: Textual
draws a list's highlight with colours alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from opscenter.tui import format as fmt
from opscenter.tui.widgets.table import STATUS_CLASSES

# component classes beyond the instance statuses: baseline and event states
EXTRA_CLASSES = ("good", "bad")
CURSOR_MARK = "▸ " if fmt.UNICODE else "> "
NO_MARK = "  "


def in_gutter(text: Text, mark: str) -> Text:
    """``text`` behind a gutter: ``mark`` on its first line, blank on the rest."""
    marked = Text(no_wrap=text.no_wrap, overflow=text.overflow)
    for at, line in enumerate(text.split("\n", allow_blank=True)):
        marked.append(f"\n{NO_MARK}" if at else mark)
        marked.append_text(line)
    return marked


class RowList(OptionList):
    """Rows of (key, Text, record); ``current`` is the record under the cursor."""

    BINDINGS = [
        Binding("k", "cursor_up", "up", show=False, id="row-up"),
        Binding("j", "cursor_down", "down", show=False, id="row-down"),
        Binding("g", "first", "first", show=False, id="row-first"),
        Binding("G", "last", "last", show=False, id="row-last"),
        Binding("enter", "select", "open", id="row-open"),
    ]

    COMPONENT_CLASSES = {*STATUS_CLASSES, *EXTRA_CLASSES}

    DEFAULT_CSS = """
    RowList {
        height: auto;
        border: none;
        padding: 0;
        background: transparent;
        scrollbar-size-vertical: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    RowList:focus { border: none; background-tint: $foreground 0%; }
    RowList > .status--success, RowList > .good { color: $success; }
    RowList > .status--running { color: $primary; text-style: bold; }
    RowList > .status--wait-time, RowList > .status--not-run, RowList > .muted {
        color: $foreground-muted;
    }
    RowList > .status--wait-resource, RowList > .warn { color: $warning; }
    RowList > .status--failure, RowList > .bad { color: $error; text-style: bold; }
    RowList > .status--frozen { color: $secondary; }
    """

    def __init__(self, *, empty: str, id: str | None = None, marked: bool = False) -> None:
        super().__init__(id=id, markup=False)
        self.empty = empty
        self.mark_width = len(NO_MARK) if marked else 0  # before each row, for the cursor's mark
        self.records: dict[str, Any] = {}
        self._texts: list[Text] = []
        self._marked: int | None = None  # the row drawn with the mark
        self._shown: tuple[tuple[str, str], ...] | None = None

    def style(self, name: str) -> Style:
        """A component class as a rich style (colour only; the words carry the meaning)."""
        return self.get_component_rich_style(name, partial=True)

    @property
    def current(self) -> Any | None:
        option = self.highlighted_option
        return None if option is None or option.id is None else self.records.get(option.id)

    def show(self, rows: Sequence[tuple[Hashable, Text, Any]], empty: str | None = None) -> None:
        """Replace the rows; the cursor stays on the same key while that row is there."""
        if empty is not None:
            self.empty = empty
        shown = tuple((str(key), text.markup) for key, text, _ in rows) or (("", self.empty),)
        self.records = {str(key): record for key, _, record in rows}
        if shown == self._shown:
            return
        self._shown = shown
        keep = self.highlighted_option.id if self.highlighted_option is not None else None
        was = self.highlighted or 0
        self._texts = [text for _, text, _ in rows] if self.mark_width else []
        self._marked = None
        if not rows:
            nothing = Text(" " * self.mark_width + self.empty, style=self.style("muted"))
            self.set_options([Option(nothing, disabled=True)])
            return
        prompts = [in_gutter(t, NO_MARK) for t in self._texts] or [t for _, t, _ in rows]
        self.set_options(
            Option(prompt, id=str(key)) for (key, _, _), prompt in zip(rows, prompts, strict=True)
        )
        ids = [str(key) for key, _, _ in rows]
        self.highlighted = ids.index(keep) if keep in ids else min(was, len(ids) - 1)
        self._mark(self.has_focus)

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        self._mark(self.has_focus)

    def on_focus(self) -> None:
        self._mark(True)  # has_focus changes after this handler, in Widget's own

    def on_blur(self) -> None:
        self._mark(False)

    def _mark(self, focused: bool) -> None:
        """The mark goes to the cursor row while the list has the focus, and only then."""
        wanted = self.highlighted if focused and self._texts else None
        if wanted == self._marked:
            return
        for index in (self._marked, wanted):
            if index is not None and index < len(self._texts):
                mark = CURSOR_MARK if index == wanted else NO_MARK
                self.replace_option_prompt_at_index(index, in_gutter(self._texts[index], mark))
        self._marked = wanted
