"""A workspace on the old DataStudio (``api_version: 2020-05-18``): the DataWorks backend
speaking the 2020 API throughout (api2020.py says how it differs)."""

from __future__ import annotations

from typing import Any

from opscenter.backends.dataworks.backend import V2020, DataWorksBackend
from opscenter.backends.dataworks.client import DataWorksClient


class LegacyBackend(DataWorksBackend):
    """DataWorksBackend with ``api_version`` 2020-05-18: only the construction differs."""

    def __init__(self, client: DataWorksClient, project_id: int, **options: Any) -> None:
        super().__init__(client, project_id, **{**options, "api_version": V2020})
