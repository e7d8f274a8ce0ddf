"""Opening a DataWorks workspace over its OpenAPI: shared by the console and the headless verbs.

A command given ``--backend dataworks`` (on its command line or in the config file) acts
on that workspace only: nothing here falls back to a local store or the demo, and what is
missing to reach DataWorks is a usage error naming the option.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opscenter.domain.clock import Clock
from opscenter.domain.records import ActionRefused
from opscenter.errors import UsageError
from opscenter.options import Options
from opscenter.store.audit import os_user

if TYPE_CHECKING:
    from opscenter.backends.dataworks.backend import DataWorksBackend

DEFAULT_TIMEZONE = "Asia/Shanghai"  # DataWorks regions in China run on UTC+8


def refuse_local_options(options: Options) -> None:
    """``--workspace`` and ``--db`` name a local world: with DataWorks they would be
    silently ignored, so a command that has both is refused rather than guessed at."""
    local = (("--workspace", options.workspace), ("--db", options.db))
    given = [flag for flag, value in local if value is not None]
    if given:
        raise UsageError(
            f"{' and '.join(given)} name a local workspace, but this command goes to "
            f"DataWorks (--backend dataworks); give --backend local to use a local one"
        )


def open_dataworks(options: Options, clock: Clock) -> DataWorksBackend:
    """A DataWorks workspace's OpenAPI behind the Backend protocol: no scheduler of ours runs.

    ``--api-version 2020-05-18`` (or the workspace's entry in the config file) serves a
    workspace on the old DataStudio through the 2020 API throughout. The workspace is
    named with GetProject first, so a wrong endpoint, key or id is found out here.
    """
    from opscenter.backends.dataworks.backend import V2020, DataWorksBackend
    from opscenter.backends.dataworks.client import (
        DataWorksClient,
        DataWorksError,
        load_credentials,
        region_endpoint,
    )
    from opscenter.backends.dataworks.legacy import LegacyBackend

    refuse_local_options(options)
    workspace_id = options.workspace_id
    region = options.region
    endpoint = options.endpoint or (region and region_endpoint(region))
    if workspace_id is None or not endpoint:
        raise UsageError("--backend dataworks needs --workspace-id and --region (or --endpoint)")
    timezone = options.timezone or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone {timezone!r} is not a time zone (an IANA name such as Asia/Shanghai)"
        ) from None
    try:
        credentials = load_credentials(options.profile)
    except DataWorksError as exc:
        raise UsageError(str(exc)) from None
    legacy = options.api_version == V2020
    backend = (LegacyBackend if legacy else DataWorksBackend)(
        DataWorksClient(credentials, endpoint),
        workspace_id,
        clock=clock,
        user=os_user(),
        readonly=options.readonly,
        timezone=timezone,
    )
    try:
        backend.connect()
    except ActionRefused as refused:
        backend.client.close()
        raise UsageError(
            f"cannot open DataWorks workspace {workspace_id}: {refused.reason}"
        ) from None
    return backend


@contextmanager
def dataworks(options: Options, clock: Clock) -> Iterator[DataWorksBackend]:
    """``open_dataworks`` for one command: its connections closed when the command ends."""
    backend = open_dataworks(options, clock)
    try:
        yield backend
    finally:
        backend.client.close()
