"""Typed, located access to a composed YAML tree.

PyYAML's composed nodes keep line and column marks; the loader reads fields
through ``Field`` so that every complaint names file, line, column and field
path, and reading goes on after a problem so all of them are reported at once.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TypeVar

import yaml

from opscenter.project.problems import Problem, did_you_mean
from opscenter.yamlsyntax import compose as compose_yaml
from opscenter.yamlsyntax import line_and_column, yaml_syntax

T = TypeVar("T")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# DataWorks accepts node names of up to 128 characters; every name here keeps to that.
MAX_NAME = 128
MB = 1024 * 1024
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


class FileRefused(ValueError):
    """A path that is no regular file, or a file larger than its reader accepts."""


def read_text_file(path: Path, limit: int) -> str:
    """The UTF-8 text of the regular file ``path``, newlines as ``Path.read_text`` gives
    them. A device, FIFO or directory (which may never end, or block) and a file of more
    than ``limit`` bytes are refused unread: `FileRefused`. OSError and UnicodeDecodeError
    as reading raises them."""
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
            raise FileRefused(f"not a regular file: {path} is {kind}")
        # read no more than the limit: the file may have grown since fstat
        data = b"" if info.st_size > limit else file.read(limit + 1)
    if info.st_size > limit or len(data) > limit:
        raise FileRefused(f"file too large: {path} has more than the {limit // MB} MB limit")
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


class Report:
    """Collects problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.text = ""  # the file's text, set by `compose`: where a problem inside a value is found
        self.problems: list[Problem] = []

    def add(self, node: yaml.Node | None, field: str, message: str, hint: str = "") -> None:
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(Problem(self.file, line, column, field, message, hint))

    def add_in(
        self, file: str, text: str, start: int, field: str, message: str, hint: str = ""
    ) -> None:
        """A problem in another file the workspace names (a code file), at ``start`` in its
        ``text``, so an editor opens that file at that line."""
        line, column = line_and_column(text, start)
        self.problems.append(Problem(file, line, column, field, message, hint))


def compose(text: str, report: Report) -> yaml.Node | None:
    """The YAML tree of a file's ``text``; a file that does not parse is one problem,
    located where PyYAML stopped (nothing after it can be read), and None."""
    report.text = text
    try:
        return compose_yaml(text)
    except yaml.YAMLError as exc:
        syntax = yaml_syntax(exc, text)
        problem = Problem(report.file, syntax.line, syntax.column, "", syntax.message, syntax.hint)
        report.problems.append(problem)
        return None


class Field:
    """One YAML value at a known path. Methods return None after reporting a problem."""

    def __init__(self, node: yaml.Node, path: str, report: Report) -> None:
        self.node = node
        self.path = path
        self.report = report

    def problem(self, message: str, hint: str = "") -> None:
        self.report.add(self.node, self.path, message, hint)

    def problem_at(self, part: str, start: int, message: str, hint: str = "") -> None:
        """A problem about ``part``, found at ``start`` in this scalar's value: located where
        the file spells that part out, else (escapes, folded lines) at the value."""
        mark = self.node.start_mark
        source = self.report.text[mark.index : self.node.end_mark.index]
        index = -1
        for _ in range(str(self.node.value)[:start].count(part) + 1):  # the same occurrence
            index = source.find(part, index + 1)
            if index < 0:
                break
        if index < 0:
            self.problem(message, hint)
            return
        lines, column = line_and_column(source, index)
        if lines == 1:
            column += mark.column
        problem = Problem(self.report.file, mark.line + lines, column, self.path, message, hint)
        self.report.problems.append(problem)

    def _child(self, node: yaml.Node, suffix: str) -> Field:
        return Field(node, f"{self.path}{suffix}" if self.path else suffix.lstrip("."), self.report)

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null")

    def mapping(
        self, allowed: AbstractSet[str], required: AbstractSet[str] = frozenset()
    ) -> dict[str, Field] | None:
        """The mapping's fields; unknown, duplicate and missing keys are problems."""
        if not isinstance(self.node, yaml.MappingNode):
            self.problem(f"expected a mapping of keys, got {_kind(self.node)}")
            return None
        fields: dict[str, Field] = {}
        for key_node, value_node in self.node.value:
            if not self._scalar_key(key_node):
                continue
            key = str(key_node.value)
            where = f"{self.path}{_step(key)}".lstrip(".")
            if key not in allowed:
                self.report.add(key_node, where, f"unknown key {key!r}", did_you_mean(key, allowed))
            elif key in fields:
                self.report.add(key_node, where, f"duplicate key {key!r}")
            else:
                fields[key] = self._child(value_node, f".{key}")
        for key in sorted(required - fields.keys()):
            self.problem(f"missing required key {key!r}")
        return fields

    def _scalar_key(self, key_node: yaml.Node) -> bool:
        """A key is a name; a list or mapping as a key (``? [a, b]``) is a problem."""
        if isinstance(key_node, yaml.ScalarNode):
            return True
        self.report.add(key_node, self.path, f"a key must be a name, got {_kind(key_node)}")
        return False

    def items(self) -> Iterator[Field]:
        """Elements of a list (a problem, and nothing, if it is not a list)."""
        if self.is_null:
            return
        if not isinstance(self.node, yaml.SequenceNode):
            self.problem(f"expected a list, got {_kind(self.node)}")
            return
        for index, item in enumerate(self.node.value):
            yield self._child(item, f"[{index}]")

    def pairs(self) -> Iterator[tuple[str, Field]]:
        """Key/value pairs of a free-form mapping (parameters)."""
        for key, value in self.entries():
            yield str(key.node.value), value

    def entries(self) -> Iterator[tuple[Field, Field]]:
        """Key and value fields of a free-form mapping: a problem about a key (unknown,
        refused) is located at the key, one about its value at the value. Not a mapping,
        a key that is not a name and a key given twice are problems; null is empty."""
        if self.is_null:
            return
        if not isinstance(self.node, yaml.MappingNode):
            self.problem(f"expected a mapping of names to values, got {_kind(self.node)}")
            return
        seen: set[str] = set()
        for key_node, value_node in self.node.value:
            if not self._scalar_key(key_node):
                continue
            key = str(key_node.value)
            if key in seen:
                where = f"{self.path}{_step(key)}".lstrip(".")
                self.report.add(key_node, where, f"duplicate key {key!r}")
                continue
            seen.add(key)
            yield self._child(key_node, _step(key)), self._child(value_node, _step(key))

    def text(self, *, allow_empty: bool = False) -> str | None:
        if not isinstance(self.node, yaml.ScalarNode) or self.is_null:
            self.problem(f"expected a text value, got {_kind(self.node)}")
            return None
        value = str(self.node.value)
        if not allow_empty and not value.strip():
            self.problem("must not be empty")
            return None
        return value

    def identifier(self, what: str = "name") -> str | None:
        value = self.text()
        if value is not None and not IDENTIFIER.fullmatch(value):
            self.problem(
                f"{what} {value!r} is not valid",
                "use letters, digits and underscores, not starting with a digit",
            )
            return None
        if value is not None and len(value) > MAX_NAME:
            self.problem(
                f"{what} is too long ({len(value)} characters)",
                f"at most {MAX_NAME} characters, as DataWorks allows",
            )
            return None
        return value

    def integer(self, low: int, high: int) -> int | None:
        value = self.text()
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.problem(f"expected a whole number, got {value!r}")
            return None
        if not low <= number <= high:
            self.problem(f"{number} is out of range", f"allowed: {low}..{high}")
            return None
        return number

    def choice(self, choices: Callable[[str], T], names: list[str]) -> T | None:
        value = self.text()
        if value is None:
            return None
        try:
            return choices(value)
        except ValueError:
            self.problem(f"{value!r} is not a valid value", did_you_mean(value, names))
            return None


def _step(key: str) -> str:
    """The field path's step to ``key``: quoted when it holds a newline or another character
    that would not show as itself in a one-line problem."""
    return f".{key}" if key.isprintable() else f"[{key!r}]"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "nothing"
    return f"{node.value!r}"
