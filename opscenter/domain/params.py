"""Scheduling parameters (spec section 5): ``${...}``, ``$[...]`` and the ``$`` built-ins.

Values are fixed when an instance is generated, so rendering is a pure function of the
instance's scheduled time (cyctime, wall clock in the workspace zone), its business date and
its ids. ``${...}`` counts from the business date in whole days, months or years; ``$[...]``
counts from cyctime in (fractional) days, exactly, and formats afterwards.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from opscenter.domain.rules import bizdate_of


class ParamError(ValueError):
    """An expression that cannot be rendered; it names the expression so the user can find it."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid parameter expression {expression}: {reason}")
        self.expression = expression
        self.reason = reason


# Alternation order makes the match greedy: yyyy before yy, hh24/hh12 before hh.
_TOKEN = re.compile(r"yyyy|yy|mm|dd|hh24|hh12|hh|mi|ss", re.IGNORECASE)
_DATE_TOKENS = frozenset({"yyyy", "yy", "mm", "dd"})
_FIELDS: dict[str, Callable[[datetime], str]] = {
    "yyyy": lambda t: f"{t.year:04d}",
    "yy": lambda t: f"{t.year % 100:02d}",
    "mm": lambda t: f"{t.month:02d}",
    "dd": lambda t: f"{t.day:02d}",
    "hh24": lambda t: f"{t.hour:02d}",
    "hh12": lambda t: f"{(t.hour - 1) % 12 + 1:02d}",
    "hh": lambda t: f"{(t.hour - 1) % 12 + 1:02d}",
    "mi": lambda t: f"{t.minute:02d}",
    "ss": lambda t: f"{t.second:02d}",
}

_OFFSET = r"(?:[+-]\d+(?:[*/]\d+)*)"
# The lazy format leaves the longest offset suffix (spec 5.2 rule 4).
_FORMAT_AND_OFFSET = re.compile(rf"(.*?)({_OFFSET}*)", re.DOTALL)
_TERM = re.compile(r"([+-])(\d+)((?:[*/]\d+)*)")
_FACTOR = re.compile(r"([*/])(\d+)")
_INTEGER = r"[+-]?\d+(?:\*\d+)*(?:[+-]\d+(?:\*\d+)*)*"
_ADD_MONTHS = re.compile(
    rf"add_months\(([^,()]*),({_INTEGER})\)({_OFFSET}*)", re.IGNORECASE | re.DOTALL
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LETTER = re.compile(r"[A-Za-z]")

_BUILTINS = ("bizdate", "cyctime", "gmtdate", "bizmonth", "jobid", "nodeid", "taskid")
_LEGACY = {"bdp.system.bizdate": "bizdate", "bdp.system.cyctime": "cyctime"}
_ID_LABELS = {"jobid": "workflow ID", "nodeid": "node ID", "taskid": "instance ID"}
_FORM = re.compile(
    r"\$\{(?P<curly>[^{}]*)\}"
    r"|\$\[(?P<square>[^\[\]]*)\]"
    rf"|\$(?P<builtin>{'|'.join(_BUILTINS)})\b"
    r"|(?P<unclosed>\$[{\[]\S*)"
)
_CURLY_BODY = re.compile(r"\$\{([^{}]*)\}")
_SAMPLE_CYCTIME = datetime(2025, 11, 1, 2, 30, 45)


@dataclass(frozen=True)
class _Instance:
    cyctime: datetime
    bizdate: date
    ids: Mapping[str, int | None]


def render(
    text: str,
    cyctime: datetime,
    *,
    bizdate: date | None = None,
    node_id: int | None = None,
    instance_id: int | None = None,
    job_id: int | None = None,
) -> str:
    """Replace every parameter form in ``text``; anything else is copied unchanged.

    ``bizdate`` defaults to the day before cyctime; a backfill passes the selected date.
    """
    instance = _instance(cyctime, bizdate, node_id, instance_id, job_id)
    return _replace(text, instance, {})


def validate_value(value: str) -> None:
    """Reject an assignment value at load time rather than when an instance first renders it."""
    if re.search(r"\s", value):
        raise ParamError(
            value,
            "spaces are not allowed in a value; build 'yyyy-mm-dd hh24:mi:ss' "
            "by concatenating two parameters",
        )
    if "=" in value:
        raise ParamError(value, "'=' is not allowed in a value")
    render(value, _SAMPLE_CYCTIME, node_id=1, instance_id=1, job_id=1)


def resolve(
    assignments: Mapping[str, str],
    cyctime: datetime,
    *,
    bizdate: date | None = None,
    node_id: int | None = None,
    instance_id: int | None = None,
    job_id: int | None = None,
) -> dict[str, str]:
    """Render a node's ``name=value`` assignments for one instance, keeping their order."""
    instance = _instance(cyctime, bizdate, node_id, instance_id, job_id)
    return {name: _replace(value, instance, {}) for name, value in assignments.items()}


def substitute(
    code: str,
    values: Mapping[str, str],
    cyctime: datetime,
    *,
    bizdate: date | None = None,
    node_id: int | None = None,
    instance_id: int | None = None,
    job_id: int | None = None,
) -> str:
    """Fill SQL code: ``${name}`` takes the resolved value, every other form is rendered.

    One pass, so a substituted value is never rendered a second time.
    """
    instance = _instance(cyctime, bizdate, node_id, instance_id, job_id)
    return _replace(code, instance, values)


def referenced_names(code: str) -> set[str]:
    """The ``${name}`` parameters code refers to, so a loader can report undeclared ones."""
    return {body for body in _CURLY_BODY.findall(code) if _is_name(body)}


def _instance(
    cyctime: datetime,
    bizdate: date | None,
    node_id: int | None,
    instance_id: int | None,
    job_id: int | None,
) -> _Instance:
    wall_clock = cyctime.replace(tzinfo=None)
    return _Instance(
        cyctime=wall_clock,
        bizdate=bizdate_of(wall_clock.date()) if bizdate is None else bizdate,
        ids={"jobid": job_id, "nodeid": node_id, "taskid": instance_id},
    )


def _replace(text: str, instance: _Instance, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group()
        if match["unclosed"] is not None:
            closer = "}" if expression[1] == "{" else "]"
            raise ParamError(expression, f"{expression[:2]} is not closed; end it with {closer}")
        if match["builtin"] is not None:
            return _builtin(match["builtin"], instance, expression)
        if match["curly"] is not None:
            body = match["curly"]
            if body in values:
                return values[body]
            if body in _LEGACY:
                return _builtin(_LEGACY[body], instance, expression)
            return _business_date(body, instance.bizdate, expression)
        return _scheduled_time(match["square"], instance.cyctime, expression)

    return _FORM.sub(one, text)


def _builtin(name: str, instance: _Instance, expression: str) -> str:
    business_day = datetime.combine(instance.bizdate, time())
    if name == "bizdate":
        return _format("yyyymmdd", business_day)
    if name == "cyctime":
        return _format("yyyymmddhh24miss", instance.cyctime)
    if name == "gmtdate":
        return _format("yyyymmdd", _shift(business_day, expression, days=Fraction(1)))
    if name == "bizmonth":
        # The last complete month: bizdate's own only when bizdate ends its month.
        first = business_day.replace(day=1)
        if _shift(business_day, expression, days=Fraction(1)).month == business_day.month:
            first = _shift(first, expression, days=Fraction(-1))
        return _format("yyyymm", first)
    ident = instance.ids[name]
    if ident is None:
        raise ParamError(expression, f"the {_ID_LABELS[name]} is not known in this context")
    return str(ident)


def _business_date(body: str, bizdate: date, expression: str) -> str:
    """``${fmt±N}``: N whole units of the smallest date token in fmt, from bizdate 00:00."""
    if not body:
        raise ParamError(expression, "empty ${}; write a date format such as ${yyyymmdd}")
    fmt, offset = _split(body)
    tokens = {token.lower() for token in _TOKEN.findall(fmt)}
    if _is_name(body) or not tokens:
        raise ParamError(
            expression,
            "neither a known parameter nor a date format; declare the parameter "
            "or write a format such as ${yyyymmdd}",
        )
    if tokens - _DATE_TOKENS:
        raise ParamError(
            expression,
            "hour, minute and second tokens are not allowed in ${...} "
            "(it is based on the business date); use $[...] for times",
        )
    if "/" in offset:
        raise ParamError(
            expression,
            "fractional offsets are not allowed in ${...} (whole days, months or years only); "
            "use $[...] for hour offsets",
        )
    count = int(_evaluate(offset, expression))
    start = datetime.combine(bizdate, time())
    if "dd" in tokens:
        moment = _shift(start, expression, days=Fraction(count))
    else:
        moment = _shift(start, expression, months=count if "mm" in tokens else 12 * count)
    return _format(fmt, moment)


def _scheduled_time(body: str, cyctime: datetime, expression: str) -> str:
    """``$[fmt±days]`` and ``$[add_months(fmt,K)±days]``: shift cyctime exactly, then format."""
    months = 0
    if body.lower().startswith("add_months"):
        call = _ADD_MONTHS.fullmatch(body)
        if call is None:
            raise ParamError(
                expression,
                "expected add_months(format,months) optionally followed by a day offset, "
                "e.g. $[add_months(yyyymmdd,-1)]",
            )
        fmt, count, offset = call.groups()
        months = int(_evaluate(count if count[0] in "+-" else f"+{count}", expression))
    else:
        fmt, offset = _split(body)
    if not _TOKEN.search(fmt):
        raise ParamError(expression, "no date or time token; write a format such as $[hh24miss]")
    moment = _shift(cyctime, expression, months=months, days=_evaluate(offset, expression))
    return _format(fmt, moment)


def _split(body: str) -> tuple[str, str]:
    match = _FORMAT_AND_OFFSET.fullmatch(body)
    assert match is not None  # the offset may be empty, so every body matches
    return match[1], match[2]


def _is_name(body: str) -> bool:
    """A plain identifier with letters outside format tokens names a parameter (``bizdate``).

    ``yyyymmdd``, ``mm`` or ``yyyy_mm_dd`` are formats even though they are identifiers.
    """
    return _NAME.fullmatch(body) is not None and _LETTER.search(_TOKEN.sub("", body)) is not None


def _evaluate(offset: str, expression: str) -> Fraction:
    """Sum chained terms such as ``-1-1/24`` exactly, so ``1/24/60`` is one minute, not ~1."""
    total = Fraction(0)
    for sign, first, factors in _TERM.findall(offset):
        term = Fraction(int(first))
        for operator, number in _FACTOR.findall(factors):
            if operator == "*":
                term *= int(number)
            elif int(number) == 0:
                raise ParamError(expression, "division by zero in the offset")
            else:
                term /= int(number)
        total += term if sign == "+" else -term
    return total


def _shift(
    moment: datetime, expression: str, *, months: int = 0, days: Fraction = Fraction(0)
) -> datetime:
    """Add months, clamping the day to the month end (03-31 - 1 month = 02-28), then days."""
    try:
        if months:
            year, month0 = divmod(moment.year * 12 + moment.month - 1 + months, 12)
            last_day = calendar.monthrange(year, month0 + 1)[1]
            moment = moment.replace(year=year, month=month0 + 1, day=min(moment.day, last_day))
        return moment + timedelta(microseconds=round(days * 86_400_000_000))
    except (OverflowError, ValueError):
        raise ParamError(expression, "the offset moves the date out of range") from None


def _format(fmt: str, moment: datetime) -> str:
    return _TOKEN.sub(lambda token: _FIELDS[token.group().lower()](moment), fmt)
