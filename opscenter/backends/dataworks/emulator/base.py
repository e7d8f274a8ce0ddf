"""What every group of operations shares: the backend, the mapper and the lookups.

The groups read the served workspace through Backend methods only, never its store, so
what the emulator answers is what any console over that backend would see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any, ClassVar

from opscenter.backends.dataworks.emulator.mapping import Mapper
from opscenter.backends.dataworks.emulator.wire import ApiFailure, Params, invalid, missing
from opscenter.backends.local import LocalBackend
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    InstanceFilter,
    InstanceInfo,
    NodeFilter,
    NodeInfo,
    NotFound,
)

Operation = Callable[[Params], dict[str, Any]]
EVERY = 1_000_000  # a list limit no served workspace reaches: the whole list


def legacy(data: Any) -> dict[str, Any]:
    """The 2020 envelope: ``Data`` beside ``Success`` and ``HttpStatusCode``."""
    return {"Success": True, "HttpStatusCode": 200, "Data": data}


def prod_env(params: Params) -> None:
    """The served workspace has a production environment only."""
    env = params.text("ProjectEnv", required=True)
    if env != "PROD":
        raise invalid("ProjectEnv", f"{env!r}: the emulator serves PROD only")


def legacy_day(text: str, name: str) -> date | None:
    """2020 dates: ``yyyy-MM-dd`` or ``yyyy-MM-dd HH:mm:ss``."""
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise invalid(name, "expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss") from None


def required_day(params: Params, name: str) -> date:
    """A required 2020 date (``legacy_day``)."""
    day = legacy_day(params.text(name, required=True), name)
    if day is None:  # (a required text is never empty)
        raise missing(name)
    return day


def required_int(params: Params, name: str) -> int:
    """A required integer, typed as one: ``Params.int`` answers None only when optional."""
    value = params.int(name, required=True)
    if value is None:
        raise missing(name)
    return value


class Group:
    """Operations of one API version over one LocalBackend; ``ACTIONS`` names the methods
    served, each called with the request's Params."""

    VERSION: ClassVar[str]
    ACTIONS: ClassVar[tuple[str, ...]]

    def __init__(self, backend: LocalBackend, mapper: Mapper) -> None:
        self.backend = backend
        self.map = mapper

    def table(self) -> dict[tuple[str, str], Operation]:
        return {(self.VERSION, name): getattr(self, name) for name in self.ACTIONS}

    def _nodes(self) -> list[NodeInfo]:
        return self.backend.list_nodes(NodeFilter())

    def _node(self, node_id: int) -> NodeInfo:
        """A deployed node by id."""
        try:
            node = self.backend.get_node_by_id(node_id)
        except NotFound:
            node = None
        if node is None or node.state != "deployed":
            raise ApiFailure(400, "InvalidParameter", f"No deployed task with id {node_id}.")
        return node

    def _project(self, params: Params, name: str = "ProjectId") -> None:
        project = params.int(name, required=True)
        if project != self.map.project_id:
            raise ApiFailure(
                403, "Forbidden.Access", f"No access to project {project}: it is not served here."
            )

    def _all_instances(self, flt: InstanceFilter) -> list[InstanceInfo]:
        """Every matching instance, read window by window (the store pages by keyset)."""
        found: list[InstanceInfo] = []
        while True:
            window = self.backend.list_instances(flt)
            found.extend(window.items)
            if window.next_after is None:
                return found
            flt = dataclasses.replace(flt, after=window.next_after)

    def _instance(self, params: Params, name: str = "Id") -> InstanceInfo:
        return self.backend.get_instance(required_int(params, name))

    def _log(self, instance_id: int, attempt: int | None) -> str:
        chunks: list[str] = []
        offset = 0
        while True:
            chunk = self.backend.read_log(instance_id, attempt, offset, limit=1 << 20)
            chunks.append(chunk.text)
            if chunk.at_end or chunk.next_offset == offset:
                return "".join(chunks)
            offset = chunk.next_offset

    def _batch(self, params: Params, act: Callable[[list[int]], ActionResult]) -> dict[str, Any]:
        """One action per id, so a refusal is that id's failure and the rest still happen."""
        ids = params.ids("Ids", required=True)
        return {"SuccessInfo": {str(i): self._outcome(partial(act, [i])) for i in ids}}

    @staticmethod
    def _outcome(act: Callable[[], ActionResult]) -> dict[str, Any]:
        try:
            result = act()
        except ActionRefused as refused:
            return {"Success": False, "Message": refused.reason}
        except ApiFailure as failure:
            return {"Success": False, "Message": failure.message}
        return {"Success": True, "Message": result.message}
