"""Keys that arrive in one burst (a fast typist, a paste, SSH delivering a packet) after
``/`` or ``:`` must never be obeyed as commands: "/sales" never sets success, and a pasted
":instance 12" opens instance 12."""

from textual import events

from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.screens.instance import InstanceScreen
from tests.tui.helpers import press, screen_text, settle

NAMES = {"/": "slash", ":": "colon", " ": "space", "\r": "enter"}


async def burst(pilot, text: str) -> None:  # noqa: ANN001 - a Pilot
    """Post every key before any is handled, as a terminal read of several bytes does."""
    for char in text:
        pilot.app.post_message(events.Key(NAMES.get(char, char), None if char == "\r" else char))
    await settle(pilot)


async def test_a_burst_after_slash_is_never_an_action(demo_backend) -> None:
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await burst(pilot, "/sales")
        assert not isinstance(app.screen, ConfirmScreen), screen_text(pilot)
        assert app.screen.text == "sales"  # every key reached the search box
        await press(pilot, "escape", "enter")
        assert isinstance(app.screen, InstanceScreen)
        await burst(pilot, "/select")  # s is set success, x stop, f freeze here
        assert not isinstance(app.screen, ConfirmScreen), screen_text(pilot)
    assert [e.action for e in demo_backend.audit_log()] == ["deploy"]  # nothing acted


async def test_a_pasted_command_lands_in_the_prompt(demo_backend) -> None:
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await burst(pilot, ":instance 12\r")
        assert isinstance(app.screen, InstanceScreen) and app.screen.instance_id == 12
