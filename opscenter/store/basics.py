"""What a command needs of the store before it opens one: the largest id a store holds
(the command line refuses a larger one) and the error every store problem is said with.
Apart from ``db`` so that parsing a command line, and naming a failure, load no SQLAlchemy."""

from __future__ import annotations

LARGEST_ID = 2**63 - 1
"""SQLite's largest integer: an id or a limit beyond it cannot even be asked for."""


def storable(number: int) -> bool:
    """Whether ``number`` fits an INTEGER column (so a query for it can be sent at all)."""
    return -LARGEST_ID - 1 <= number <= LARGEST_ID


class StoreError(Exception):
    """The store cannot be opened or used; the message says what to do."""
