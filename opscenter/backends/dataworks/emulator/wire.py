"""What a request carries and what an error looks like on the wire (spec 2.2, 2.3, 2.6)."""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opscenter.store.db import LARGEST_ID, storable  # a larger id names nothing

V2024 = "2024-05-18"
V2020 = "2020-05-18"

# No DataWorks parameter nests deeper than a few levels; a deeper one is refused before
# json.loads (and the code after it) can recurse into it.
MAX_JSON_DEPTH = 32
_JSON_SPECIAL = re.compile(r'[\[\]{}"\\]')


class ApiFailure(Exception):
    """An answer in the gateway's error shape: HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status
        self.code = code
        self.message = message


def missing(name: str) -> ApiFailure:
    return ApiFailure(400, "MissingParameter", f"The input parameter {name!r} is required.")


def invalid(name: str, why: str) -> ApiFailure:
    return ApiFailure(400, "InvalidParameter", f"The parameter {name!r} is invalid: {why}.")


def error_body(request_id: str, host: str, code: str, message: str) -> dict[str, Any]:
    """The gateway's error shape (spec 2.6)."""
    return {
        "RequestId": request_id,
        "HostId": host,
        "Code": code,
        "Message": message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=dataworks-public"
        f"&requestId={request_id}",
    }


@dataclass
class Incoming:
    """One request as received: what the verifier and the operations read."""

    method: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # lower-cased names; repeated headers joined by ","
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


def is_id(value: Any) -> bool:
    """A non-negative 64-bit integer, or its ASCII digits ("²".isdigit() is True too)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LARGEST_ID


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings do
    not count); linear, with no recursion."""
    depth = deepest = 0
    in_string = False
    escaped = -1  # the position a backslash escapes
    for special in _JSON_SPECIAL.finditer(text):
        at, char = special.start(), special.group()
        if at == escaped:
            continue
        if in_string:
            if char == "\\":
                escaped = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class Params:
    """The merged query and form parameters, read with the types each operation expects."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def text(self, name: str, *, required: bool = False, default: str = "") -> str:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise missing(name)
            return default
        return value

    def int(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        value = self.text(name, required=required)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not an integer") from None
        if not storable(number):
            raise invalid(name, f"{value!r} is out of range")
        return number

    def bool(self, name: str, default: bool = False, *, required: bool = False) -> bool:
        """The SDKs send ``True``/``False``, hand-written clients ``true``/``false``."""
        value = self.text(name, required=required).lower()
        if not value:
            return default
        if value not in ("true", "false"):
            raise invalid(name, f"{value!r} is not a boolean")
        return value == "true"

    def json(self, name: str, *, required: builtins.bool = False, default: Any = None) -> Any:
        value = self.text(name, required=required)
        if not value:
            return default
        if json_depth(value) > MAX_JSON_DEPTH:
            raise invalid(name, f"it is nested more than {MAX_JSON_DEPTH} levels deep")
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise invalid(name, "it is not valid JSON") from None

    def ids(self, name: str, *, required: builtins.bool = False) -> list[builtins.int]:
        """A JSON array of integer ids (the 2024 batch operations' ``Ids``)."""
        value = self.json(name, required=required, default=[])
        if not isinstance(value, list) or not all(is_id(v) for v in value):
            raise invalid(name, "expected a JSON array of integer ids")
        if required and not value:
            raise missing(name)
        return [int(v) for v in value]

    def id_list(self, name: str, *, required: builtins.bool = False) -> list[builtins.int]:
        """Comma-separated integer ids (the 2020 lists, e.g. ``IncludeNodeIds=1,2,3``)."""
        parts = [p.strip() for p in self.text(name, required=required).split(",") if p.strip()]
        if not all(is_id(p) for p in parts):
            raise invalid(name, "expected comma-separated integer ids")
        if required and not parts:
            raise missing(name)
        return [int(p) for p in parts]

    def paging(
        self, default_size: builtins.int = 10, max_size: builtins.int = 100
    ) -> tuple[builtins.int, builtins.int]:
        number = self.int("PageNumber", default=1) or 1
        size = self.int("PageSize", default=default_size) or default_size
        if number < 1:
            raise invalid("PageNumber", "it must be 1 or more")
        if not 1 <= size <= max_size:
            raise invalid("PageSize", f"it must be between 1 and {max_size}")
        return number, size
