"""The one-line prompt (a business date, a command): keys that come before its field has
the focus still make the answer."""

from __future__ import annotations

from textual.app import App

from opscenter.tui.screens.prompt import PromptScreen
from tests.tui.helpers import press, settle


async def test_an_enter_before_the_field_has_the_focus_answers() -> None:
    answers: list[str | None] = []
    app = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(PromptScreen("Business date", value="2026-11-19"), answers.append)
        await settle(pilot)
        app.screen.set_focus(None)  # as when the Enter of a fast paste arrives first
        await press(pilot, "enter")
        assert answers == ["2026-11-19"]


async def test_keys_before_the_field_has_the_focus_are_typed_into_it() -> None:
    answers: list[str | None] = []
    app = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(PromptScreen("Business date", value="2026-11-19"), answers.append)
        await settle(pilot)
        app.screen.set_focus(None)
        await press(pilot, *"any", "enter")  # typed over the value, as in the focused field
        assert answers == ["any"]
