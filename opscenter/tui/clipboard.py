"""Copy over SSH: OSC 52, wrapped for tmux so the outer terminal receives it."""

from __future__ import annotations

import base64

MAX_BYTES = 74_994  # what most terminals accept in one OSC 52 sequence


def osc52(text: str, *, tmux: bool) -> str:
    """The escape sequence that asks the terminal to put ``text`` on the clipboard."""
    payload = base64.b64encode(text.encode("utf-8")[:MAX_BYTES]).decode("ascii")
    sequence = f"\x1b]52;c;{payload}\a"
    if tmux:  # tmux passes a DCS-wrapped sequence through with its escapes doubled
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence
