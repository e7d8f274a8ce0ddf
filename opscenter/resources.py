"""Files shipped with opscenter: the demo workspace and the themes.

In a source checkout (and an editable install) they sit beside the package;
a wheel carries them inside it under ``_fixtures`` and ``_themes``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(source: str, bundled: str) -> Path:
    beside = _PACKAGE.parent / source
    return beside if beside.exists() else _PACKAGE / bundled


def demo_workspace() -> Path:
    return _shipped("fixtures/demo", "_fixtures/demo")


def themes_folder() -> Path:
    return _shipped("themes", "_themes")
