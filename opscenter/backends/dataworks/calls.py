"""Calling DataWorks for the backend: every failure becomes a refusal the console can show
(naming the call), an answer of an unexpected shape is a refusal too rather than a bare
KeyError, and a change that got no answer is told apart as an unknown outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opscenter.backends.dataworks.client import (
    NOT_FOUND,
    ApiError,
    DataWorksClient,
    DataWorksError,
    NoAnswer,
)
from opscenter.domain.records import ActionRefused, NotFound

V2024 = "2024-05-18"
V2020 = "2020-05-18"
READ_PREFIXES = ("List", "Get", "TopTen")  # calls that change nothing


class OutcomeUnknown(ActionRefused):
    """A change was sent and no answer came: audited as unknown, not as refused."""


class Answer(dict):
    """A DataWorks answer whose missing field is a refusal naming the call and its request
    id, so an answer of an unexpected shape never escapes as a bare KeyError."""

    def __init__(self, data: dict[str, Any], action: str, request_id: str) -> None:
        super().__init__({k: answer(v, action, request_id) for k, v in data.items()})
        self.action = action
        self.request_id = request_id

    def __missing__(self, key: str) -> Any:
        raise ActionRefused(
            f"DataWorks {self.action} failed: the answer has no {key!r} field "
            f"(request id {self.request_id or 'none'})"
        )


def answer(value: Any, action: str, request_id: str) -> Any:
    if isinstance(value, dict):
        return Answer(value, action, request_id)
    if isinstance(value, list):
        return [answer(item, action, request_id) for item in value]
    return value


def unavailable(feature: str, needs: str) -> ActionRefused:
    return ActionRefused(
        f"{feature} is not available over the DataWorks backend yet: needs {needs}"
    )


@contextmanager
def missing_as(missing: NotFound) -> Iterator[None]:
    """An answer that the id is not there, in the words the local backend uses too."""
    try:
        yield
    except NotFound:
        raise missing from None


class Calls:
    """One workspace's client: 2024-05-18 calls unless ``legacy``."""

    def __init__(self, client: DataWorksClient, project_id: int) -> None:
        self.client = client
        self.project_id = project_id

    def call(self, action: str, params: dict[str, Any], **options: Any) -> dict[str, Any]:
        """A refusal by DataWorks (any error answer) becomes ActionRefused for the console."""
        try:
            found = self.client.call(action, params, **options)
        except NoAnswer as error:
            if action.startswith(READ_PREFIXES):
                raise ActionRefused(f"DataWorks {action} failed: {error}") from None
            raise OutcomeUnknown(
                f"DataWorks {action} failed: {error}; it may have been done all the same, "
                "so check the targets before repeating it"
            ) from None
        except DataWorksError as error:
            if isinstance(error, ApiError) and error.code == NOT_FOUND:
                raise NotFound(f"DataWorks {action} failed: {error}") from None
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return answer(found, action, str(found.get("RequestId") or ""))

    def get(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.call(action, params, method="GET")

    def legacy(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A 2020-05-18 call: every call of an old DataStudio workspace, and baselines,
        events and run history for a new one too."""
        return self.call(action, params, version=V2020)

    def pages(
        self, action: str, key: str, params: dict[str, Any], method: str = "POST"
    ) -> list[Any]:
        """Every item of a paged 2024 list."""
        try:
            items = list(self.client.iter_items(action, key, params, method=method))
        except DataWorksError as error:
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return answer(items, action, "")

    def pages_2020(self, action: str, key: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a paged 2020 list (its pages sit in ``Data``)."""
        try:
            items = list(
                self.client.iter_items(action, key, params, container="Data", version=V2020)
            )
        except DataWorksError as error:
            raise ActionRefused(f"DataWorks {action} failed: {error}") from None
        return answer(items, action, "")
