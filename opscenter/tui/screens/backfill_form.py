"""The backfill form: a node over a range of business dates, previewed as it is filled in.

Every field is reached with tab, its text selected so that typing replaces it (``ctrl+u``
clears it too); the preview line asks the backend what the request would create (the
same check the backfill itself makes) and whether its node's upstream has data for its
first date, so a refusal is read before anything is asked. ``ctrl+s`` (or the Create
button) asks once more and then confirms with the exact nodes; esc leaves without creating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from opscenter.domain.backfill_data import no_data, writes_data
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillRequest,
    InstanceFilter,
    NodeInfo,
    counted,
)
from opscenter.tui.console import OnConsole

if TYPE_CHECKING:
    from opscenter.backends.base import Backend

DEBOUNCE = 0.2  # seconds of quiet typing before the preview asks the backend
MANY_PER_DAY = ("hour", "minute")


def _notes(preview: ActionResult) -> list[str]:
    """What the backend's preview says beyond the count the form shows itself: its message
    is the plan's count, then '; '-separated notes (dry-run and frozen nodes)."""
    return preview.message.split("; ")[1:]


@dataclass(frozen=True)
class Below:
    """The node's downstream closure, nearest first: what "include downstream" may select;
    and the upstream nodes whose data it reads (through virtual ones)."""

    info: NodeInfo | None
    nodes: tuple[tuple[str, int], ...]  # (name, level)
    sources: tuple[str, ...] = ()


def _sources(backend: Backend, info: NodeInfo) -> tuple[str, ...]:
    """The upstream nodes whose data ``info``'s node reads, looking through virtual ones."""
    found: list[str] = []
    seen: set[str] = set()
    frontier = list(info.upstreams)
    while frontier:
        name = frontier.pop(0)
        if name in seen:
            continue
        seen.add(name)
        upstream = backend.get_node(name)
        if writes_data(upstream.type):
            found.append(name)
        else:
            frontier.extend(upstream.upstreams)
    return tuple(found)


def _preview(backend: Backend, request: BackfillRequest, sources: tuple[str, ...]) -> ActionResult:
    """What the backend would create, once its first date has data to read: an upstream with
    no instance for that business date never wrote any (refused, saying so)."""
    result = backend.preview_backfill(request)
    first = min(request.start, request.end)
    for upstream in sources:
        try:
            found = backend.list_instances(InstanceFilter(node=upstream, bizdate=first, limit=1))
        except ActionRefused:
            continue  # a backend that cannot tell: the backfill itself will say
        if not found.items:
            raise ActionRefused(no_data(request.node, first, upstream))
    return result


class Field(Input):
    """A form field: ``ctrl+u`` clears it whole (not only left of the cursor)."""

    BINDINGS = [Binding("ctrl+u", "clear", "clear", show=False)]

    def action_clear(self) -> None:
        self.clear()


class Toggle(Static, can_focus=True):
    """``[x] label``: a yes/no field whose state is a character, readable without colour."""

    BINDINGS = [Binding("space,enter", "flip", "toggle", show=False)]
    value: reactive[bool] = reactive(False)

    class Changed(Message):
        def __init__(self, toggle: Toggle) -> None:
            self.toggle = toggle
            super().__init__()

    def __init__(self, label: str, *, id: str) -> None:
        super().__init__(id=id)
        self.label = label

    def render(self) -> Text:
        return Text(f"[{'x' if self.value else ' '}] {self.label}")

    def watch_value(self) -> None:
        self.post_message(self.Changed(self))

    def action_flip(self) -> None:
        self.value = not self.value


class Picks(OptionList):
    """Downstream nodes to keep (``[x]``) or leave out (``[ ]``): space or enter toggles."""

    BINDINGS = [
        Binding("space", "flip", "keep/leave out", show=False),
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
    ]

    class Changed(Message):
        pass

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, compact=True)
        self.levels: dict[str, int] = {}
        self.kept: set[str] = set()

    def show(self, nodes: tuple[tuple[str, int], ...]) -> None:
        self.levels = dict(nodes)
        self.kept = set(self.levels)
        self.set_options(Option(self._prompt(name), id=name) for name in self.levels)

    def _prompt(self, name: str) -> Text:
        mark = "x" if name in self.kept else " "
        return Text(f"[{mark}] " + "  " * (self.levels[name] - 1) + f"↓ {name}")

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def action_flip(self) -> None:
        if self.highlighted is None:
            return
        name = self.get_option_at_index(self.highlighted).id
        assert name is not None
        self.kept ^= {name}
        self.replace_option_prompt(name, self._prompt(name))
        self.post_message(self.Changed())

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_flip()


class BackfillForm(OnConsole, ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="cancel"),
        Binding("ctrl+s", "create", "create", id="create"),
    ]
    DEFAULT_CSS = """
    BackfillForm { align: center middle; background: $background 60%; }
    BackfillForm #backfill-form {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
        border-title-style: bold;
    }
    BackfillForm .row { height: 1; }
    BackfillForm .label { width: 12; text-style: bold; }
    BackfillForm .hint { width: auto; color: $foreground-muted; }
    BackfillForm .sep { width: auto; }
    BackfillForm Input { width: 12; }
    BackfillForm #parallel { width: 5; }
    BackfillForm #window-from, BackfillForm #window-to { width: 7; }
    BackfillForm #name { width: 1fr; }
    BackfillForm Toggle { width: auto; }
    BackfillForm Toggle:focus { background: $boost; text-style: bold; }
    BackfillForm #below { height: auto; max-height: 6; margin-left: 12; }
    BackfillForm #preview { height: auto; margin: 1 0 0 0; }
    BackfillForm #create-button { min-width: 10; }
    """

    def __init__(self, node: str, bizdate: date) -> None:
        super().__init__()
        self.node = node
        self.bizdate = bizdate
        self.below = Below(None, ())
        self._timer: Timer | None = None
        self._asked = 0  # preview generation: an older answer never overwrites a newer one

    def compose(self) -> ComposeResult:
        day = self.bizdate.isoformat()
        with Vertical(id="backfill-form"):
            with Horizontal(classes="row"):
                yield Static("Dates", classes="label")
                yield Field(day, id="start", max_length=10, compact=True)
                yield Static(" to ", classes="sep")
                yield Field(day, id="end", max_length=10, compact=True)
                yield Static(" business dates, yyyy-mm-dd", classes="hint")
            with Horizontal(classes="row"):
                yield Static("Parallel", classes="label")
                yield Field("1", id="parallel", type="integer", max_length=2, compact=True)
                yield Static(" dates in flight at a time", classes="hint")
            with Horizontal(classes="row"):
                yield Static("Order", classes="label")
                yield Toggle("descending: latest date first", id="descending")
            with Horizontal(classes="row"):
                yield Static("Downstream", classes="label")
                yield Toggle("include downstream nodes", id="downstream")
            yield Picks(id="below")
            with Horizontal(classes="row"):
                yield Static("Window", classes="label")
                # enabled once the node turns out to run hourly or by the minute
                yield Field(
                    id="window-from", placeholder="HH:MM", max_length=5, disabled=True, compact=True
                )
                yield Static(" - ", classes="sep")
                yield Field(
                    id="window-to", placeholder="HH:MM", max_length=5, disabled=True, compact=True
                )
                yield Static(" hourly/minute nodes only", id="window-hint", classes="hint")
            with Horizontal(classes="row"):
                yield Static("Name", classes="label")
                yield Field(id="name", placeholder="optional", compact=True)
            yield Static(Text("reading the node…"), id="preview")
            with Horizontal(classes="row"):
                yield Button("Create", id="create-button", compact=True)
                yield Static(
                    "  ctrl+s create · tab next field · ctrl+u clear · esc cancel",
                    classes="hint",
                )

    def on_mount(self) -> None:
        self.query_one("#backfill-form").border_title = Text(f"Backfill {self.node}")
        self.query_one("#below", Picks).display = False
        self.query_one("#start", Input).focus()
        backend = self.console.backend
        self.run_worker(lambda: self._read_below(backend), thread=True, exit_on_error=False)

    def _read_below(self, backend: Backend) -> None:
        """The node and every node below it, by level, from ``get_node``: a node's
        downstreams come with its detail on every backend (a DataWorks node list has none)."""
        try:
            info = backend.get_node(self.node)
            levels: dict[str, int] = {}
            frontier, level = list(info.downstreams), 1
            while frontier:
                fresh = [n for n in dict.fromkeys(frontier) if n not in levels and n != self.node]
                levels |= dict.fromkeys(fresh, level)
                frontier = [d for name in fresh for d in backend.get_node(name).downstreams]
                level += 1
            sources = _sources(backend, info)
        except ActionRefused:
            info, levels, sources = None, {}, ()
        except Exception as exc:
            self.app.call_from_thread(self._say, Text(f"the backend did not answer: {exc}"))
            return
        nearest = tuple(sorted(levels.items(), key=lambda kv: (kv[1], kv[0])))
        below = Below(info, nearest, sources)
        self.app.call_from_thread(self._show_below, below)

    def _show_below(self, below: Below) -> None:
        self.below = below
        self.query_one("#below", Picks).show(below.nodes)
        if not below.nodes:
            downstream = self.query_one("#downstream", Toggle)
            downstream.label = "include downstream (it has none)"
            downstream.refresh(layout=True)  # the longer label needs its width
        hourly = below.info is not None and below.info.cycle_type in MANY_PER_DAY
        self.query_one("#window-from", Input).disabled = not hourly
        self.query_one("#window-to", Input).disabled = not hourly
        if hourly:
            self.query_one("#window-hint", Static).update(" empty: the whole day")
        self.preview_soon()

    # -- the request as filled in -------------------------------------------------------------

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def request(self) -> tuple[BackfillRequest | None, str]:
        """The request the fields make, or what to fix (checked here: what a form can tell)."""
        dates = []
        for field, label in (("#start", "start"), ("#end", "end")):
            try:
                dates.append(date.fromisoformat(self._value(field)))
            except ValueError:
                return None, f"{label} date: write yyyy-mm-dd, e.g. {self.bizdate.isoformat()}"
        parallel = self._value("#parallel")
        if not parallel.isdigit():
            return None, "parallel: how many dates run at a time (a whole number)"
        window: tuple[str, str] | None = None
        if not self.query_one("#window-from", Input).disabled:
            ends = (self._value("#window-from"), self._value("#window-to"))
            if any(ends):
                try:
                    window = (
                        f"{time.fromisoformat(ends[0]):%H:%M}",
                        f"{time.fromisoformat(ends[1]):%H:%M}",
                    )
                except ValueError:
                    return None, "window: write both ends as HH:MM (e.g. 08:00 - 10:00)"
        downstream = self.query_one("#downstream", Toggle).value and bool(self.below.nodes)
        exclude: tuple[str, ...] = ()
        if downstream:
            kept = self.query_one("#below", Picks).kept
            exclude = tuple(name for name, _level in self.below.nodes if name not in kept)
        request = BackfillRequest(
            node=self.node,
            start=dates[0],
            end=dates[1],
            downstream=downstream,
            exclude=exclude,
            parallel=int(parallel),
            descending=self.query_one("#descending", Toggle).value,
            window=window,
            name=self._value("#name"),
        )
        return request, ""

    def nodes(self, request: BackfillRequest) -> list[str]:
        """The chosen nodes: the node, then the downstream ones kept, nearest first."""
        if not request.downstream:
            return [self.node]
        return [self.node, *(n for n, _level in self.below.nodes if n not in request.exclude)]

    def summary(self, request: BackfillRequest, result: ActionResult) -> Text:
        dates, instances = result.extra.get("dates", 0), result.extra.get("instances", 0)
        nodes = len(self.nodes(request))
        sign = "=" if dates * nodes == instances else "→"
        text = Text(
            f"{counted(dates, 'date')} × {counted(nodes, 'node')} {sign} "
            f"{counted(instances, 'instance')}",
            style="bold",
        )
        for note in _notes(result):
            text.append(f"\n{note}")
        return text

    # -- the live preview ----------------------------------------------------------------------

    @on(Input.Changed)
    @on(Toggle.Changed)
    @on(Picks.Changed)
    def preview_soon(self) -> None:
        listing = self.query_one("#below", Picks)
        listing.display = self.query_one("#downstream", Toggle).value and bool(self.below.nodes)
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.preview)

    def preview(self) -> None:
        self._timer = None
        request, problem = self.request()
        self._asked += 1
        if request is None:
            self._say(Text(problem, style="bold"))
            return
        asked = self._asked
        backend = self.console.backend
        sources = self.below.sources

        def work() -> None:
            try:
                answer: ActionResult | str = _preview(backend, request, sources)
            except ActionRefused as refused:
                answer = refused.reason
            except Exception as exc:
                answer = f"the backend did not answer: {exc}"
            self.app.call_from_thread(self._previewed, asked, request, answer)

        self.run_worker(work, thread=True, group="preview", exit_on_error=False)

    def _previewed(self, asked: int, request: BackfillRequest, answer: ActionResult | str) -> None:
        if asked != self._asked:
            return
        if isinstance(answer, str):
            self._say(Text(f"✗ refused: {answer}", style="bold"))
        else:
            self._say(self.summary(request, answer))

    def _say(self, text: Text) -> None:
        if self.is_attached:
            self.query_one("#preview", Static).update(text)

    # -- keys ----------------------------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#create-button")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_create()

    def on_screen_resume(self) -> None:
        """Back from the confirm, the field kept its focus and so no new focus selected its
        text: select it, so a date typed now replaces it (a full field takes no more)."""
        if isinstance(self.focused, Input):
            self.focused.select_all()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_create(self) -> None:
        """Ask the backend once more, then confirm with the exact nodes and dates."""
        request, problem = self.request()
        console = self.console
        if request is None:
            self._say(Text(problem, style="bold"))
            console.refuse("backfill", [self.node], problem)
            return
        targets = [request.node, f"{request.start}..{request.end}"]  # as the backend audits
        sources = self.below.sources

        def work() -> None:
            try:
                result = _preview(console.backend, request, sources)
            except ActionRefused as refused:  # a preview audits nothing: the refusal is ours
                console.call_from_thread(
                    self._say, Text(f"✗ refused: {refused.reason}", style="bold")
                )
                console.call_from_thread(console.refuse, "backfill", targets, refused.reason)
                return
            except Exception as exc:
                console.call_from_thread(console.backend_failed, exc)
                return
            console.call_from_thread(self._confirm, request, result)

        self.run_worker(work, thread=True, group="preview", exit_on_error=False)

    def _confirm(self, request: BackfillRequest, result: ActionResult) -> None:
        self._say(self.summary(request, result))
        dates = result.extra.get("dates", 0)
        span = f"{request.start}" if dates == 1 else f"{request.start} … {request.end}"
        how = [
            "descending" if request.descending else "ascending",
            f"{request.parallel} at a time",
        ]
        if request.window:
            how.append(f"window {'-'.join(request.window)}")
        nodes = self.nodes(request)
        summary = (
            f"{counted(result.extra.get('instances', 0), 'instance')} of "
            f"{counted(len(nodes), 'node')} for {counted(dates, 'business date')} "
            f"{span} ({', '.join(how)}) will be created and run:"
        )
        notes = _notes(result)
        if request.name:
            notes.append(f"named {request.name!r}")
        self.console.act(
            "Backfill",
            summary,
            [nodes[0], *(f"↓ {n}" for n in nodes[1:])],
            lambda backend: backend.backfill(request),
            notes=notes,
            done=self._created,
        )

    def _created(self, _result: ActionResult) -> None:
        self.dismiss(None)
