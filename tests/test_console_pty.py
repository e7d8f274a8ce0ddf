"""`opscenter` with no arguments, in a real terminal: the living demo opens, and `q` leaves."""

from __future__ import annotations

import os

from tests.processes import console_in_a_terminal, read_until


def test_no_arguments_opens_the_living_demo_and_q_quits(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    with console_in_a_terminal([], env) as (terminal, process):
        wanted = ["opscenter · shop · local".encode(), "sched ● lead".encode(), b"[1 Dash]"]
        screen = read_until(terminal, wanted, 60)
        assert "opscenter · shop · local".encode() in screen
        assert "sim×120".encode() in screen  # the demo's simulated clock
        assert "sched ● lead".encode() in screen  # its own scheduler holds the lease
        assert b"[1 Dash]" in screen
        os.write(terminal, b"q")
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "opscenter" / "shop" / "state.db").exists()
