"""Themes from YAML (themes/*.yaml and the user's config folder) turned into Textual themes.

Textual's ansi-dark and ansi-light stay available on purpose: a jump host with
16 colours is where an on-call engineer most often is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from textual.theme import BUILTIN_THEMES, Theme

from opscenter import yamlsyntax
from opscenter.resources import themes_folder
from opscenter.yamlsyntax import yaml_syntax

DEFAULT_THEME = "opscenter-dark"
ANSI_THEMES = ("ansi-dark", "ansi-light")
_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


@dataclass(frozen=True)
class ThemeProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def user_themes_folder() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opscenter" / "themes"


def load_theme(path: Path) -> Theme:
    """One YAML theme; ValueError names the field that is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yamlsyntax.load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        syntax = yaml_syntax(exc, text)
        where = f"line {syntax.line}, column {syntax.column}"
        raise ValueError(f"{where}: {syntax.explained}") from None
    if not isinstance(data, dict):
        raise ValueError("a theme is a mapping of name, dark and colours")
    unknown = sorted(set(data) - {"name", "dark", "variables", *_FIELDS})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: name, dark, {', '.join(_FIELDS)})")
    name = data.get("name") or path.stem
    if "primary" not in data:
        raise ValueError("field 'primary' is required (a colour such as '#4ea1ff')")
    colours: dict[str, Any] = {k: str(data[k]) for k in _FIELDS if k in data}
    try:
        theme = Theme(
            name=str(name),
            dark=bool(data.get("dark", True)),
            variables={str(k): str(v) for k, v in (data.get("variables") or {}).items()},
            **colours,
        )
        theme.to_color_system()  # parses every colour now, not on first paint
    except Exception as exc:  # Textual says which colour it could not parse
        raise ValueError(f"bad colour: {exc}") from None
    return theme


def available_themes() -> tuple[list[Theme], list[ThemeProblem]]:
    """Shipped themes, then the user's (a user theme may replace a shipped one)."""
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for folder in (themes_folder(), user_themes_folder()):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                theme = load_theme(path)
            except ValueError as exc:
                problems.append(ThemeProblem(path, str(exc)))
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems


def theme_names() -> list[str]:
    ours = [t.name for t in available_themes()[0]]
    return ours + [n for n in ANSI_THEMES if n in BUILTIN_THEMES]
