"""Every operation served, by (version, action): the groups of one LocalBackend."""

from __future__ import annotations

from opscenter.backends.dataworks.emulator.base import Operation
from opscenter.backends.dataworks.emulator.dags2020 import Dags2020
from opscenter.backends.dataworks.emulator.mapping import Mapper
from opscenter.backends.dataworks.emulator.ops2020 import Ops2020
from opscenter.backends.dataworks.emulator.ops2024 import Ops2024
from opscenter.backends.dataworks.emulator.pipelines import Pipelines
from opscenter.backends.dataworks.emulator.sla2020 import Sla2020
from opscenter.backends.dataworks.emulator.workflows2024 import Workflows2024
from opscenter.backends.local import LocalBackend

GROUPS = (Ops2024, Workflows2024, Pipelines, Ops2020, Dags2020, Sla2020)


class Operations:
    """The 2024-05-18 and 2020-05-18 operations, over one LocalBackend."""

    def __init__(self, backend: LocalBackend) -> None:
        mapper = Mapper(backend)
        self.table: dict[tuple[str, str], Operation] = {}
        for group in GROUPS:
            self.table.update(group(backend, mapper).table())
