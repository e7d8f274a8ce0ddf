"""Id lists in statements: cut to a size every database accepts in one ``IN (...)``, and
compared the cheapest way SQLAlchemy can render them.

SQLAlchemy renders an ``IN`` list (an expanding parameter, or a Python list given to
``in_``) anew at every execution, with a regular expression over the statement's text.
Statements a scheduler turn runs for every attempt avoid it: a fixed list of values is
written into the statement's text once (``among``), and a single id, what a chain's turn
mostly has, is compared with ``=`` (``OverIds``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, bindparam, literal_column
from sqlalchemy.orm import QueryableAttribute

CHUNK = 500
T = TypeVar("T")
Column = ColumnElement[Any] | QueryableAttribute[Any]
Match = Callable[[Column], ColumnElement[bool]]


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def among(column: Column, values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN ('a', 'b')``, the values (our own constants, such as statuses) written
    into the statement when it is built."""
    quoted: list[ColumnElement[str]] = [
        literal_column("'" + value.replace("'", "''") + "'") for value in values
    ]
    return column.in_(quoted)


class OverIds(Generic[T]):
    """A statement over a list of ids, built twice by ``build`` from how the id column is
    matched: ``= :one_id`` for one id (an UPDATE reserves ``id``), ``IN :ids`` for several."""

    def __init__(self, build: Callable[[Match], T]) -> None:
        self._one = build(lambda column: column == bindparam("one_id"))
        self._many = build(lambda column: column.in_(bindparam("ids", expanding=True)))

    def of(
        self, ids: Sequence[int], params: Mapping[str, Any] | None = None
    ) -> tuple[T, dict[str, Any]]:
        """The statement for ``ids`` (not empty), and its parameters: theirs and ``params``."""
        given = dict(params or {})
        if len(ids) == 1:
            return self._one, given | {"one_id": ids[0]}
        return self._many, given | {"ids": list(ids)}
