"""Id lists cut to a size every database accepts in one ``IN (...)``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CHUNK = 500


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
