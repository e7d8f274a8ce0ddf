"""Baselines in the workspace YAML (spec 7.1): a committed time per cycle, a margin, the
nodes they protect; every problem located, as the rest of the loader reports them."""

from __future__ import annotations

import re

import yaml

from opscenter.domain.model import Baseline
from opscenter.domain.preconditions import PRIORITIES
from opscenter.project.problems import did_you_mean
from opscenter.project.reader import Field

_BASELINE_KEYS = {"name", "owner", "priority", "type", "committed_time", "margin", "nodes"}
_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def baseline_rules(field: Field | None, nodes: set[str], names: set[str]) -> list[Baseline]:
    """The workspace's baselines, every problem located; ``names`` gains each baseline's
    name (alert rules refer to them) even when the rest of it is wrong."""
    found: dict[str, Baseline] = {}
    for item in field.items() if field else ():
        fields = item.mapping(_BASELINE_KEYS, required={"name", "committed_time", "nodes"})
        if fields is None or "name" not in fields:
            continue
        name = fields["name"].identifier("baseline name")
        if name:
            names.add(name)
        kind = (
            fields["type"].choice(str.upper, ["DAILY", "HOURLY"]) if "type" in fields else "DAILY"
        )
        if kind not in ("DAILY", "HOURLY"):
            fields["type"].problem(f"{kind!r} is not a baseline type", "DAILY or HOURLY")
            kind = None
        priority = fields["priority"].integer(1, 8) if "priority" in fields else 1
        if priority is not None and priority not in PRIORITIES:
            fields["priority"].problem(
                f"baseline priority {priority} is not allowed", "one of 1, 3, 5, 7, 8"
            )
            priority = None
        margin = fields["margin"].integer(0, 24 * 60) if "margin" in fields else 30
        times = _committed(fields.get("committed_time"), kind)
        members = _members(fields.get("nodes"), nodes)
        owner = fields["owner"].text(allow_empty=True) if "owner" in fields else ""
        if name in found:
            fields["name"].problem(f"baseline {name!r} is defined twice")
        elif (
            name is not None
            and kind is not None
            and priority is not None
            and margin is not None
            and times is not None
            and members is not None
            and owner is not None
        ):
            found[name] = Baseline(name, owner, priority, kind, times, margin, members)
    return list(found.values())


def _committed(field: Field | None, kind: str | None) -> tuple[str, ...] | None:
    if field is None:
        return None
    items = list(field.items()) if isinstance(field.node, yaml.SequenceNode) else [field]
    if kind == "DAILY" and len(items) != 1:
        field.problem("a DAILY baseline has one committed time", "write committed_time: '09:00'")
        return None
    times: list[str] = []
    for item in items:
        value = item.text()
        if value is None:
            continue
        match = _CLOCK_TIME.fullmatch(value)
        if not (match and int(match[1]) <= 47 and int(match[2]) <= 59):
            item.problem(
                f"{value!r} is not a committed time",
                "hh:mm with hh 00..47 (24..47 = the next day)",
            )
            return None
        times.append(value)
    return tuple(times) if len(times) == len(items) else None


def _members(field: Field | None, nodes: set[str]) -> tuple[str, ...] | None:
    if field is None:
        return None
    names: list[str] = []
    items = list(field.items())
    for item in items:
        name = item.identifier("node name")
        if name is not None and name not in nodes:
            item.problem(
                f"baseline node {name!r} is not a node of this workspace",
                did_you_mean(name, nodes),
            )
            return None
        if name is not None:
            names.append(name)
    if not items:
        field.problem("a baseline protects at least one node")
        return None
    return tuple(names) if len(names) == len(items) else None
