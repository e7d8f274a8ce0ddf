"""A YAML file that does not parse, said the same for every file a user writes
(workspace.yaml, the config file, a theme): where (line, column), PyYAML's words, and a
hint. Below every layer that reads YAML, the console's themes included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

# A file that does not parse hides everything after the error: say so, and what usually causes it.
UNPARSED = "nothing else in the file can be checked until it parses"
_YAML_HINT = (
    "quote a value that contains ': ' or ' #', or that starts with * & ! { [ % @ | > "
    "or a backtick, e.g. description: 'ratio: high'; indent with spaces, never tabs, "
    "the same amount for every key of one mapping"
)
# Lists and mappings inside each other: a workspace needs six levels, a config file four.
# PyYAML composes a tree by recursion, and hundreds of levels end it in a RecursionError.
MAX_DEPTH = 100
_DEPTH_HINT = (
    f"opscenter reads at most {MAX_DEPTH} lists and mappings inside each other, "
    "and a workspace needs fewer than ten: look for brackets opened and never closed"
)
_CHARACTER_HINT = (
    "remove the character, or write it as an escape such as \\x00 inside double quotes"
)


def line_and_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


class NestedTooDeeply(yaml.composer.ComposerError):
    """A list or mapping more than ``MAX_DEPTH`` levels down, where it begins."""


class _Bounded(yaml.composer.Composer):
    """Composing that refuses more than ``MAX_DEPTH`` levels of lists and mappings."""

    _depth = 0

    if TYPE_CHECKING:  # the parser it is mixed with (PyYAML's or libyaml's) gives these

        def check_event(self, *choices: Any) -> bool: ...
        def peek_event(self) -> Any: ...

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH and self.check_event(
                yaml.SequenceStartEvent, yaml.MappingStartEvent
            ):
                mark = self.peek_event().start_mark
                raise NestedTooDeeply(
                    None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _BoundedLoader(_Bounded, yaml.SafeLoader):
    """PyYAML's safe loader, refusing to compose more than ``MAX_DEPTH`` levels."""


def _fast_loader() -> type[_Bounded] | None:
    """The same tree from libyaml's events, when PyYAML was built with it: scanning and
    parsing in C is most of the time a 10,000-node workspace takes to read (seconds in
    pure Python). Composing stays PyYAML's, in Python, so nesting is bounded and every node
    has the same marks (line, column, index; but no buffer)."""
    try:
        from yaml.cyaml import CParser  # type: ignore[attr-defined] # untyped: C
    except ImportError:
        return None

    class FastLoader(_Bounded, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Bounded.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return FastLoader


_FAST_LOADER = _fast_loader()
_READ_DIFFERENTLY = re.compile(f"[\t\ufeff]|{yaml.reader.Reader.NON_PRINTABLE.pattern}")


def compose(text: str) -> yaml.Node | None:
    """The YAML tree of ``text`` (None when empty), as ``yaml.compose`` with the safe loader,
    but raising `NestedTooDeeply`, a YAMLError, rather than a RecursionError.

    Parsed by libyaml when it is there; a file it refuses is parsed again by PyYAML, so that
    every error's words and place stay PyYAML's. A file with a character the two read
    differently goes to PyYAML at once: one PyYAML refuses (NUL, say), a tab (libyaml
    accepts one after a value, PyYAML does not) and a byte order mark (libyaml leaves it
    out of its marks' index)."""
    if _FAST_LOADER is not None and not _READ_DIFFERENTLY.search(text):
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)  # type: ignore[arg-type]
        except yaml.YAMLError:
            pass  # said below in PyYAML's words, where it stops
    return yaml.compose(text, Loader=_BoundedLoader)


def load(text: str) -> Any:
    """Plain data from ``text``, as ``yaml.safe_load``, nesting bounded as in `compose`."""
    return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class YamlSyntax:
    """Where and why PyYAML could not parse a file, in its own words, with a hint."""

    line: int
    column: int
    words: str
    hint: str

    @property
    def message(self) -> str:
        return f"not valid YAML: {self.words}; {UNPARSED}"

    @property
    def explained(self) -> str:
        """The message and its hint, for a reader that shows them on one line."""
        return f"{self.message} (hint: {self.hint})"


def yaml_syntax(error: yaml.YAMLError, text: str) -> YamlSyntax:
    """Locate a YAML syntax error in ``text``, keeping PyYAML's words and where the
    construct it was reading began (an unclosed quote, say, is noticed much later)."""
    if isinstance(error, yaml.reader.ReaderError):
        line, column = line_and_column(text, error.position)
        code = error.character
        words = f"unacceptable character #x{code:04x}: {error.reason}"
        return YamlSyntax(line, column, words, _CHARACTER_HINT)
    mark = getattr(error, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    words = getattr(error, "problem", None) or str(error).splitlines()[0]
    context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and start:
        words += f" ({context} at line {start.line + 1}, column {start.column + 1})"
    hint = _DEPTH_HINT if isinstance(error, NestedTooDeeply) else _YAML_HINT
    return YamlSyntax(line, column, words, hint)
