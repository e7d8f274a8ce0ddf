"""The cursor arithmetic the table and the log view share (widgets.windowed).

Each case is a screen of ``height`` lines over ``count`` lines held; the expected numbers
say what the user sees: which line is the first drawn (``top``) and where the cursor is.
"""

from __future__ import annotations

from textual.app import App, ComposeResult

from opscenter.tui.widgets.windowed import LineWindow, Windowed, moving
from tests.tui.helpers import press, settle


class Lines(LineWindow):
    def __init__(self, count: int, height: int, *, cursor: int = 0, top: int = 0) -> None:
        self.count, self.height = count, height
        self.cursor, self.top = cursor, top

    def _count(self) -> int:
        return self.count

    def _visible(self) -> int:
        return self.height


def test_moving_down_past_the_last_line_shown_scrolls_one_line():
    lines = Lines(100, 10)
    lines.place(9)  # the bottom line of the first screen: nothing scrolls
    assert (lines.cursor, lines.top) == (9, 0)
    lines.place(10)  # one further: the view follows by one line, cursor on the bottom row
    assert (lines.cursor, lines.top) == (10, 1)


def test_moving_up_past_the_first_line_shown_scrolls_one_line():
    lines = Lines(100, 10, cursor=50, top=50)
    lines.place(49)
    assert (lines.cursor, lines.top) == (49, 49)  # the cursor is the top row


def test_a_jump_far_down_puts_the_cursor_on_the_bottom_row():
    lines = Lines(100, 10)
    lines.place(75)
    assert (lines.cursor, lines.top) == (75, 66)  # lines 66..75 shown


def test_a_centered_jump_shows_context_above_and_more_below():
    lines = Lines(100, 9)
    lines.place(50, center=True)
    assert lines.top == 47  # three lines above the found line, five below


def test_a_centered_jump_to_a_line_already_shown_does_not_move_the_view():
    lines = Lines(100, 10, cursor=2, top=0)
    lines.place(7, center=True)
    assert (lines.cursor, lines.top) == (7, 0)


def test_the_view_never_scrolls_past_the_last_line():
    lines = Lines(100, 10)
    lines.place(99, center=True)
    assert lines.top == 90  # a full last screen, not the last line with blanks below
    short = Lines(5, 10)
    short.place(4)
    assert short.top == 0  # fewer lines than the screen holds: all of them from the first


def test_page_down_and_up_move_a_screenful_and_stop_at_the_ends():
    lines = Lines(100, 10)
    lines.place(lines.paged(1))
    assert (lines.cursor, lines.top) == (10, 1)
    lines = Lines(100, 10, cursor=95, top=90)
    lines.place(lines.paged(1))
    assert (lines.cursor, lines.top) == (99, 90)  # the last line, not past it
    lines = Lines(100, 10, cursor=3, top=0)
    lines.place(lines.paged(-1))
    assert (lines.cursor, lines.top) == (0, 0)


def test_an_empty_window_clamps_to_its_first_line():
    assert Lines(0, 10).clamp(5) == 0


def test_near_an_edge_within_a_screen_or_ten_lines():
    lines = Lines(1000, 10)
    lines.cursor = 9
    assert lines.near_head() and not lines.near_tail()
    lines.cursor = 10
    assert not lines.near_head()
    lines.cursor = 989
    assert not lines.near_tail()
    lines.cursor = 990  # ten lines from the end
    assert lines.near_tail()
    tall = Lines(1000, 40, cursor=39)  # a tall screen: a whole screen ahead
    assert tall.near_head()
    tiny = Lines(1000, 3, cursor=9)  # a tiny one: still ten lines ahead
    assert tiny.near_head()


def test_a_log_reads_on_two_screens_ahead():
    class LogLines(Lines):
        EDGE_SCREENS, EDGE_LINES = 2, 20

    lines = LogLines(4000, 30, cursor=3940)
    assert lines.near_tail()  # 60 lines from the end: two screens of 30
    lines.cursor = 3939
    assert not lines.near_tail()


def test_lines_added_or_dropped_above_keep_the_cursor_on_its_line():
    lines = Lines(400, 10, cursor=5, top=2)
    lines.shift(200)  # a page read above
    assert (lines.cursor, lines.top) == (205, 202)
    lines.shift(-200)  # the same page dropped
    assert (lines.cursor, lines.top) == (5, 2)
    lines.shift(-10)  # the cursor's own line dropped: the first line held
    assert (lines.cursor, lines.top) == (0, 0)


class Numbers(Windowed, can_focus=True):
    """A window of 100 numbered lines under a one-line header, as a table has."""

    BINDINGS = moving("first", "last")
    HEADER = 1
    DEFAULT_CSS = "Numbers { height: 11; }"

    def __init__(self) -> None:
        super().__init__()
        self.moves: list[int] = []

    def _count(self) -> int:
        return 100

    def _moved(self, before: int) -> None:
        self.moves.append(before)


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield Numbers()


async def test_keys_move_a_screen_of_lines_below_the_header():
    app = One()
    async with app.run_test(size=(40, 20)) as pilot:
        numbers = app.query_one(Numbers)
        numbers.focus()
        await settle(pilot)
        await press(pilot, "pagedown")  # ten lines under the header: a page is ten
        assert (numbers.cursor, numbers.top) == (10, 1)
        await press(pilot, "k", "k")
        assert (numbers.cursor, numbers.top) == (8, 1)
        await press(pilot, "pageup", "pageup")
        assert (numbers.cursor, numbers.top) == (0, 0)
        assert numbers.moves == [0, 10, 9, 8, 0]  # each move says where it came from
