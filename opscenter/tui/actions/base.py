"""The shape of a console action, and what its handler is given (an ``Aim``).

Kept apart from the registry so the handlers, which the registry names, can use it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from textual.binding import Binding
from textual.notifications import SeverityLevel

from opscenter.domain.records import ActionResult, EventInfo, InstanceInfo, NodeInfo
from opscenter.tui.console import Console


class Target(Enum):
    """What an action needs selected on the screen it is pressed on."""

    INSTANCES = "instance"  # the selection, else the row under the cursor
    NODE = "node"
    EVENT = "event"
    BACKFILLS = "backfill"  # the Backfills list: nothing under the cursor is needed

    @property
    def pointed(self) -> bool:
        """An action on nothing is refused (and audited) before its handler runs."""
        return self is not Target.BACKFILLS


class Pointing(Protocol):
    """What a screen points at, for the actions bound on it (``OpsScreen``: nothing)."""

    def instance_targets(self) -> list[InstanceInfo]: ...
    def node_target(self) -> NodeInfo | None: ...
    def event_target(self) -> EventInfo | None: ...
    def event_words(self, event: EventInfo, status: str) -> tuple[str, str]: ...
    def acted(self, result: ActionResult) -> None: ...
    def read(self, call: Callable[[], Any], done: Callable[[Any], None]) -> None: ...


@dataclass(frozen=True)
class Aim:
    """One press of an action: the console, the screen, and its targets (checked present)."""

    console: Console
    screen: Pointing
    action: ConsoleAction
    targets: list[Any]
    ids: list[int | str]  # the targets as the backend audits them

    def refuse(self, reason: str, *, severity: SeverityLevel = "warning") -> None:
        self.console.refuse(self.action.audited, self.ids, reason, severity=severity)


Handler = Callable[[Aim], Awaitable[None] | None]


@dataclass(frozen=True)
class ConsoleAction:
    """One console action: its key, its words, what it needs, whether it changes the world."""

    id: str  # the binding's action is do('<id>'), its binding id <id> with dashes
    key: str
    hint: str  # its word in the footer, the palette and help
    title: str  # the confirm's title, and what a refusal names
    target: Target
    handler: Handler
    changes: bool = True  # changes the world: refused read-only, confirmed first
    show: bool = True  # in the footer's hints (help and the palette list it anyway)
    tooltip: str = ""  # help's longer words
    argument: str = ""  # given to the handler (an event's new status), audited after the ids
    audit: str = ""  # the backend's name for it, where it differs from ``id``

    def withheld(self, readonly: bool) -> bool:
        """The read-only rule: a console that changes nothing offers nothing that does."""
        return readonly and self.changes

    @property
    def audited(self) -> str:
        return self.audit or self.id

    @property
    def binding(self) -> Binding:
        return Binding(
            self.key,
            f"do('{self.id}')",
            self.hint,
            show=self.show,
            id=self.id.replace("_", "-"),
            tooltip=self.tooltip,
        )
