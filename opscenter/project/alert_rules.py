"""The ``alerts:`` section of workspace.yaml: custom alert rules (spec 7.5).

alerts:
  - name: dashboard_late
    trigger: BaselineWarning          # Error | UnFinished | Timeout | ExhaustedError
    baselines: [exec_dashboard]       #   | BaselineWarning | BaselineOver
    interval: 30m                     # re-send while it holds (default 30m)
    max: 3                            # at most this many sends (default 3)
    quiet_hours: "23:00-07:00"        # nothing is sent in this window
    webhook: https://hooks.example.com/opscenter
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from opscenter.domain.model import AlertRule, AlertTrigger
from opscenter.project.problems import did_you_mean
from opscenter.project.reader import Field

_KEYS = {
    "name",
    "trigger",
    "nodes",
    "baselines",
    "at",
    "minutes",
    "interval",
    "max",
    "quiet_hours",
    "webhook",
}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_WINDOW = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DURATION = re.compile(r"^(\d+)\s*([smh]?)$")


def alert_rules(field: Field | None, nodes: set[str], baselines: set[str]) -> list[AlertRule]:
    rules: dict[str, AlertRule] = {}
    for item in field.items() if field else ():
        rule = _rule(item, nodes, baselines)
        if rule is None:
            continue
        if rule.name in rules:
            item.problem(f"alert rule {rule.name!r} is defined twice")
        else:
            rules[rule.name] = rule
    return list(rules.values())


def _rule(item: Field, nodes: set[str], baselines: set[str]) -> AlertRule | None:
    fields = item.mapping(_KEYS, required={"name", "trigger"})
    if fields is None or "name" not in fields or "trigger" not in fields:
        return None
    name = fields["name"].identifier("alert rule name")
    trigger = fields["trigger"].choice(AlertTrigger, [t.value for t in AlertTrigger])
    if trigger is None or name is None:
        return None
    target_key, known = ("baselines", baselines) if trigger.on_baselines else ("nodes", nodes)
    other = "nodes" if trigger.on_baselines else "baselines"
    if other in fields:
        fields[other].problem(f"a {trigger.value} rule watches {target_key}, not {other}")
        return None
    if target_key not in fields:
        item.problem(f"a {trigger.value} rule needs '{target_key}'")
        return None
    targets: list[str] = []
    entries = list(fields[target_key].items())
    for entry in entries:
        value = entry.identifier()
        if value is not None and value not in known:
            entry.problem(
                f"{value!r} is not one of the workspace's {target_key}", did_you_mean(value, known)
            )
            return None
        if value is not None:
            targets.append(value)
    if not entries or len(targets) != len(entries):
        fields[target_key].problem(f"list at least one of the workspace's {target_key}")
        return None
    at, minutes = "", 0
    if trigger is AlertTrigger.UNFINISHED:
        at = _clock(fields.get("at"), item) or ""
        if not at:
            return None
    elif "at" in fields:
        fields["at"].problem(f"'at' is for UnFinished rules, not {trigger.value}")
        return None
    if trigger is AlertTrigger.TIMEOUT:
        if "minutes" not in fields:
            item.problem("a Timeout rule needs 'minutes' (1..21600)")
            return None
        minutes = fields["minutes"].integer(1, 21600) or 0
        if not minutes:
            return None
    interval = _interval(fields["interval"]) if "interval" in fields else 1800
    max_sends = fields["max"].integer(1, 100) if "max" in fields else 3
    quiet = _window(fields["quiet_hours"]) if "quiet_hours" in fields else None
    webhook = _url(fields["webhook"]) if "webhook" in fields else ""
    if interval is None or max_sends is None or webhook is None or quiet is False:
        return None
    return AlertRule(
        name,
        trigger,
        tuple(targets) if not trigger.on_baselines else (),
        tuple(targets) if trigger.on_baselines else (),
        at,
        minutes,
        interval,
        max_sends,
        quiet or None,
        webhook,
    )


def _clock(field: Field | None, item: Field) -> str | None:
    if field is None:
        item.problem("an UnFinished rule needs 'at': hh:mm (hh 00..47)")
        return None
    value = field.text()
    match = _CLOCK.fullmatch(value or "")
    if value is not None and not (match and int(match[1]) <= 47 and int(match[2]) <= 59):
        field.problem(f"{value!r} is not a time", "hh:mm with hh 00..47 (24..47 = the next day)")
        return None
    return value


def _interval(field: Field) -> int | None:
    value = field.text()
    match = _DURATION.match((value or "").strip())
    if not match:
        if value is not None:
            field.problem(f"{value!r} is not a duration", "seconds, or e.g. 90s, 30m, 2h")
        return None
    seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]
    if seconds < 60:
        field.problem("re-sending more often than once a minute is not allowed", "use 1m or more")
        return None
    return seconds


def _window(field: Field) -> tuple[str, str] | Literal[False]:
    """The quiet window, or False when the field is wrong (its problem is recorded)."""
    value = field.text()
    match = _WINDOW.fullmatch(value or "")
    if (
        not match
        or int(match[1]) > 23
        or int(match[3]) > 23
        or int(match[2]) > 59
        or int(match[4]) > 59
    ):
        if value is not None:
            field.problem(f"{value!r} is not a time window", "HH:MM-HH:MM, e.g. 23:00-07:00")
        return False
    return f"{match[1]}:{match[2]}", f"{match[3]}:{match[4]}"


def _url(field: Field) -> str | None:
    value = field.text()
    parsed = urlparse(value or "")
    if value is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        field.problem(f"{value!r} is not a webhook URL", "http:// or https:// with a host")
        return None
    return value
