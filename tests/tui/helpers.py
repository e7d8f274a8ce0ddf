"""Driving the console in tests: wait until every read and action has landed.

Waits are on conditions, never on time alone. A pause "until the CPU is idle" (Textual's
own) is a guess that a loaded machine defeats: a process the scheduler starves looks
idle too, and then a key is still on its way up the widgets when the next step looks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerState

SETTLE_SECONDS = 60.0  # generous: a console that has not settled by then is stuck


def quiet(app: App) -> bool:
    """Nothing left to do but wait for a timer: every message handled by every widget of
    every screen, no callback pending, no worker pending or running."""
    screens = [screen for stack in app._screen_stacks.values() for screen in stack]
    pumps = [app, *(node for screen in screens for node in screen.walk_children(with_self=True))]
    if any(not pump._message_queue.empty() or pump._next_callbacks for pump in pumps):
        return False
    if any(screen._callbacks for screen in screens):
        return False
    return not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers)


async def settle(pilot: Pilot, rounds: int = 3, seconds: float = SETTLE_SECONDS) -> None:
    """Let keys, workers and their results reach the screen (a refresh may chain a read):
    at least ``rounds`` rounds, then until the console was found quiet twice running."""
    deadline = time.monotonic() + seconds
    calm = done = 0
    while done < rounds or calm < 2:
        await pilot.pause()
        # a worker that failed has told its widget (exit_on_error=False): the console
        # handles it, so waiting for it must not raise here
        await asyncio.gather(*(w.wait() for w in pilot.app.workers), return_exceptions=True)
        done += 1
        calm = calm + 1 if quiet(pilot.app) else 0
        assert time.monotonic() < deadline, f"the console did not settle in {seconds:g} s"


async def until(
    pilot: Pilot, condition: Callable[[], bool], what: str, seconds: float = SETTLE_SECONDS
) -> None:
    """Settle until ``condition()`` holds: for what a timer starts (a debounce, a refresh),
    which a quiet console still waits for."""
    deadline = time.monotonic() + seconds
    await settle(pilot)
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:g} s for {what}"
        await pilot.pause(0.02)
        await settle(pilot)


async def press(pilot: Pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


def screen_text(pilot: Pilot) -> str:
    """What the terminal shows, as plain text (what a person at the pane reads)."""
    strips = pilot.app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


class WorldSays:
    """A backend whose ``workspace()`` says more than its store does (a simulated clock, a
    stopped scheduler, a lease holder): the console shows what the backend reports."""

    def __init__(self, backend: Any, **info: Any) -> None:
        self.backend = backend
        self.info = info

    def workspace(self) -> Any:
        return replace(self.backend.workspace(), **self.info)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)
