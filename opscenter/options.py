"""The options that choose a command's world, read once at startup.

The command line, the config file and the environment (which config file) are merged
here into one frozen Options that the console, the world, remote and the verbs read;
nothing below this changes them. Precedence: an option given on the command line, else
the config file's entry for the chosen DataWorks workspace, else the file's default,
else the option's own default. Only the verbs and the console in a terminal read the
config file; the local-only commands (summary, deploy, scheduler, ...) act on the
command line alone. A verb's own arguments (ids, names, --json) stay on its parsed
arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from opscenter import config


@dataclass(frozen=True)
class Options:
    """Which world, how it is shown, and how to reach DataWorks."""

    backend: str = "local"  # local | dataworks
    workspace: str | None = None  # --workspace PATH|NAME
    db: str | None = None  # --db URL
    readonly: bool = False
    utc: bool = False
    speed: float | None = None  # sets the world's clock (simulated N×, 1: real time)
    start: datetime | None = None  # naive, workspace wall time
    no_scheduler: bool = False  # a console attached to a store another scheduler drives
    theme: str | None = None
    region: str | None = None
    workspace_id: int | None = None  # the DataWorks workspace
    endpoint: str | None = None
    profile: str | None = None
    api_version: str | None = None
    timezone: str | None = None  # the DataWorks workspace's zone

    @property
    def wants_dataworks(self) -> bool:
        return self.backend == "dataworks"

    @property
    def is_demo(self) -> bool:
        """No workspace and no store named: the bundled demo in its default store."""
        return self.workspace is None and self.db is None

    @property
    def attaches(self) -> bool:
        """A console that runs no scheduler: attached, or read-only (which writes nothing)."""
        return self.no_scheduler or self.readonly


FIELDS = frozenset(f.name for f in dataclasses.fields(Options))


def gather(
    args: argparse.Namespace, environ: Mapping[str, str], *, with_config: bool = True
) -> Options:
    """The Options of one command: what its command line gave (an option it did not give
    is absent from ``args``, or None), filled from the config file when ``with_config``."""
    given = {name: value for name, value in vars(args).items() if name in FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    if with_config:
        given |= config.from_file(given, vars(args).get("config"), environ)
    return Options(**given)
