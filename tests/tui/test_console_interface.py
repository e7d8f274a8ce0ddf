"""Screens, widgets and actions reach the app only through the typed console interface
(``opscenter.tui.console``): none of them imports ``app.py``, so the app sits on top and
there is no import circle through it."""

from __future__ import annotations

import subprocess
import sys

from tests.test_layers import imports


def test_nothing_under_the_console_imports_the_app() -> None:
    importing = sorted(
        module
        for module, names in imports("tui").items()
        if module != "tui/app.py" and any(n.startswith("opscenter.tui.app") for n in names)
    )
    assert importing == []


def test_every_screen_loads_without_the_app() -> None:
    modules = ["opscenter.tui.commands", "opscenter.tui.actions.registry"] + [
        f"opscenter.tui.screens.{name}"
        for name in ("dashboard", "nodes", "instances", "instance", "backfills", "backfill_form")
        + ("baselines", "alerts", "audit", "help")
    ]
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "assert 'opscenter.tui.app' not in sys.modules, 'the app was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
