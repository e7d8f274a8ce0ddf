"""Handler of the baseline-event moves (``m`` fixing, ``v`` recovered, ``i`` ignore), on the
Alerts list and a baseline's own screen.

A move the event's status does not allow is refused here, with the rule's words, before a
confirm is asked for nothing.
"""

from __future__ import annotations

from opscenter.domain.preconditions import event_refusal
from opscenter.domain.records import EventInfo
from opscenter.tui.actions.base import Aim

MEANINGS = {  # the status an event goes to -> what it says
    "FIXING": "someone is on it",
    "RECOVER": "the problem is gone",
    "IGNORE": "nothing to do",
}


def listed_words(event: EventInfo, status: str) -> tuple[str, str]:
    """The confirm's summary and target line where events of every baseline are listed."""
    label = (
        f"#{event.id} {event.kind} {event.node} · baseline {event.baseline} "
        f"{event.bizdate.isoformat()} ({event.status})"
    )
    return f"1 event will be marked {status}: {MEANINGS[status]}", label


def move(aim: Aim) -> None:
    event: EventInfo = aim.targets[0]
    status = aim.action.argument
    refusal = event_refusal(event.id, event.status, status)
    if refusal:
        aim.refuse(refusal)
        return
    summary, line = aim.screen.event_words(event, status)
    aim.console.act(
        aim.action.title,
        summary,
        [line],
        lambda backend: backend.handle_event(event.id, status),
    )
