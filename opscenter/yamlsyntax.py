"""A YAML file that does not parse, said the same for every file a user writes
(workspace.yaml, the config file, a theme): where (line, column), PyYAML's words, and a
hint. Below every layer that reads YAML, the console's themes included."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# A file that does not parse hides everything after the error: say so, and what usually causes it.
UNPARSED = "nothing else in the file can be checked until it parses"
_YAML_HINT = (
    "quote a value that contains ': ' or ' #', or that starts with * & ! { [ % @ | > "
    "or a backtick, e.g. description: 'ratio: high'; indent with spaces, never tabs, "
    "the same amount for every key of one mapping"
)
_CHARACTER_HINT = (
    "remove the character, or write it as an escape such as \\x00 inside double quotes"
)


def line_and_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


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
    return YamlSyntax(line, column, words, _YAML_HINT)
