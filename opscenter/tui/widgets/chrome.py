"""The lines every screen shares: which world this is, the tabs, and the keys that act."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from opscenter.tui.console import OnConsole

TABS = (
    ("1", "dashboard", "Dash"),
    ("2", "nodes", "Nodes"),
    ("3", "instances", "Instances"),
    ("4", "backfills", "Backfills"),
    ("5", "baselines", "Baselines"),
    ("6", "alerts", "Alerts"),
    ("7", "audit", "Audit"),
)


class WorldLine(OnConsole, Static):
    """Workspace, backend, read-only, business date, clock and scheduler state."""

    DEFAULT_CSS = "WorldLine { height: 1; }"

    def on_mount(self) -> None:
        self.update_line()
        self.set_interval(1.0, self.update_line)

    def on_resize(self) -> None:
        self.update_line()

    def update_line(self) -> None:
        self.update(self.console.world_line(self.size.width))


class TabLine(Static):
    """The screens by number; the current one in brackets (readable without colour)."""

    DEFAULT_CSS = "TabLine { height: 1; }"

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        text = Text(" ", no_wrap=True, overflow="ellipsis")
        for key, mode, title in TABS:
            if mode == self.current:
                text.append(f"[{key} {title}]", style="reverse bold")
            else:
                text.append(f" {key} {title} ")
        self.update(text)


class KeyHints(OnConsole, Static):
    """The keys that act here, from the screen's own bindings (read-only drops the actions)."""

    DEFAULT_CSS = "KeyHints { height: 1; dock: bottom; }"

    def on_mount(self) -> None:
        self.update_hints()

    def on_resize(self) -> None:
        self.update_hints()

    def update_hints(self) -> None:
        width = self.size.width or self.app.size.width
        self.update(self.console.key_hints(self.screen, width))
