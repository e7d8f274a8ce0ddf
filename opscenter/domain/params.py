"""Scheduling parameters (spec section 5): ``${...}``, ``$[...]`` and the ``$`` built-ins.

Values are fixed when an instance is generated, so rendering is a pure function of the
instance's scheduled time (cyctime, wall clock in the workspace zone), its business date and
its ids. ``${...}`` counts from the business date in whole days, months or years; ``$[...]``
counts from cyctime in (fractional) days, exactly, and formats afterwards.

The grammar is exactly spec 5.2's: a format is format tokens joined by the separators
``-`` ``:`` ``/`` (other text goes outside the braces, as in ``${yyyymm}01``), followed by an
offset ``([+-]N([*/]N)*)*``. Anything else is refused, at load time and when rendering, so
an expression never renders as half a date and some literal text.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from opscenter.domain.rules import bizdate_of

_BUILTIN_HINT = "built-ins: $bizdate $cyctime $gmtdate $bizmonth $jobid $nodeid $taskid"
_HINTS = {
    "${": "${...} counts from the business date: ${yyyymmdd}, ${yyyy-mm-dd}, ${yyyymmdd-7} "
    "(N counts the smallest unit of the format: days for dd, months for mm, years for yyyy), "
    "${yyyymm-1}, ${yyyymmdd-7*1}; tokens yyyy yy mm dd joined by - : /, other text outside "
    f"the braces, as in ${{yyyymm}}01; {_BUILTIN_HINT}",
    "$[": "$[...] counts days from the scheduled time: $[yyyymmddhh24miss], $[yyyymmdd-1], "
    "$[hh24-1/24] (an hour back), $[hh24mi-1/24/60] (a minute back), $[yyyymmdd-1-1/24], "
    "$[add_months(yyyymmdd,-1)]; tokens yyyy yy mm dd hh24 hh12 hh mi ss joined by - : /, "
    f"other text outside the brackets; {_BUILTIN_HINT}",
}


class ParamError(ValueError):
    """An expression that cannot be rendered; it names the expression so the user can find it.

    ``hint`` lists the forms that exist; ``start`` is where the expression begins in the
    text that was checked, so a loader can point at its line and column.
    """

    def __init__(
        self, expression: str, reason: str, *, hint: str | None = None, start: int = 0
    ) -> None:
        super().__init__(f"invalid parameter expression {expression}: {reason}")
        self.expression = expression
        self.reason = reason
        self.hint = _HINTS.get(expression[:2], "") if hint is None else hint
        self.start = start


_TOKENS = "yyyy|yy|mm|dd|hh24|hh12|hh|mi|ss"  # in this order, alternation is greedy
_TOKEN = re.compile(_TOKENS, re.IGNORECASE)
_SEPARATORS = "-:/"
_PIECE = re.compile(rf"{_TOKENS}|[{_SEPARATORS}]", re.IGNORECASE)
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

_OFFSET = re.compile(r"(?:[+-]\d+(?:[*/]\d+)*)*", re.ASCII)
_OFFSET_START = frozenset(".,*/+-")  # after a "-", these and digits are read as an offset
_TERM = re.compile(r"([+-])(\d+)((?:[*/]\d+)*)", re.ASCII)
_FACTOR = re.compile(r"([*/])(\d+)", re.ASCII)
_MONTHS = re.compile(r"[+-]?\d+(?:\*\d+)*", re.ASCII)
_ADD_MONTHS = re.compile(r"add_months\(([^,()]*),([^()]*)\)(.*)", re.IGNORECASE | re.DOTALL)
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


@dataclass(frozen=True)
class _Instance:
    cyctime: datetime
    bizdate: date
    ids: Mapping[str, int | None]


# What load-time checks render against: any instance would do, since only the values differ.
_SAMPLE = _Instance(
    datetime(2025, 11, 1, 2, 30, 45), date(2025, 10, 31), dict.fromkeys(_ID_LABELS, 1)
)


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


def problems_in_value(value: str) -> list[ParamError]:
    """Everything wrong with an assignment value, found at load time rather than when an
    instance first renders it: every bad form, and spaces or ``=`` around them."""
    found = [error for match in _FORM.finditer(value) for error in _check(match, {})]
    between = _FORM.sub("", value)  # a bad form already says it holds a space
    if re.search(r"\s", between):
        found.append(
            ParamError(
                value,
                "spaces are not allowed in a value; build 'yyyy-mm-dd hh24:mi:ss' "
                "by concatenating two parameters",
            )
        )
    if "=" in between:
        found.append(ParamError(value, "'=' is not allowed in a value"))
    return sorted(found, key=lambda error: error.start)


def problems_in_code(code: str, names: Collection[str]) -> list[ParamError]:
    """Every form in SQL code that would not render, in order: a ``${name}`` must be one of
    ``names`` (the node's parameters), any other form must follow the grammar."""
    values = dict.fromkeys(names, "")
    found: list[ParamError] = []
    for match in _FORM.finditer(code):
        body = match["curly"]
        if body is not None and body not in values and _is_name(body):
            found.append(
                ParamError(
                    match.group(),
                    f"the node has no parameter {body!r}",
                    hint=f"declare it under parameters, e.g. {body}: $bizdate",
                    start=match.start(),
                )
            )
        else:
            found.extend(_check(match, values))
    return found


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
    return _FORM.sub(lambda match: _form(match, instance, values), text)


def _check(match: re.Match[str], values: Mapping[str, str]) -> list[ParamError]:
    """The problem with one form, if any, located at its start in the checked text."""
    try:
        _form(match, _SAMPLE, values)
    except ParamError as error:
        return [ParamError(error.expression, error.reason, start=match.start())]
    return []


def _form(match: re.Match[str], instance: _Instance, values: Mapping[str, str]) -> str:
    """One form rendered for one instance: rendering and load-time checks share it, so what
    validates is exactly what renders."""
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
    if _is_name(body) or not _TOKEN.search(body):
        raise ParamError(
            expression,
            "neither a known parameter nor a date format; declare the parameter "
            "or write a format such as ${yyyymmdd}",
        )
    fmt, offset = _split(body, expression, curly=True)
    tokens = {token.lower() for token in _TOKEN.findall(fmt)}
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
    if not _TOKEN.search(body):
        raise ParamError(expression, "no date or time token; write a format such as $[hh24miss]")
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
        if _split(fmt, expression, curly=False)[1]:
            raise ParamError(
                expression,
                "add_months takes a format only; write a day offset after it, "
                "e.g. $[add_months(yyyymmdd,-1)-1]",
            )
        if not _MONTHS.fullmatch(count):
            raise ParamError(
                expression,
                f"{count!r} is not a number of months; write a whole number such as -1, "
                "or 12*2 for two years",
            )
        _check_offset(offset, expression, curly=False)
        months = int(_evaluate(count if count[0] in "+-" else f"+{count}", expression))
    else:
        fmt, offset = _split(body, expression, curly=False)
    moment = _shift(cyctime, expression, months=months, days=_evaluate(offset, expression))
    return _format(fmt, moment)


def _split(body: str, expression: str, *, curly: bool) -> tuple[str, str]:
    """Format and offset (spec 5.2 rule 4), or a ParamError naming what is neither.

    ``curly``: the body of ``${...}``, whose offset counts whole units; it words the reasons.
    """
    outside = "outside the braces, as in ${yyyymm}01" if curly else "outside the brackets"
    end, last = 0, ""
    while piece := _PIECE.match(body, end):
        end, last = piece.end(), piece.group()
    rest = body[end:]
    if body[:end].endswith("-") and (not rest or rest[0] in _OFFSET_START or rest[0].isdigit()):
        cut = end - 1  # that "-" starts the offset
    elif not rest or rest[0] == "+":
        cut = end
    elif rest[0].isspace():
        raise ParamError(
            expression,
            "a space cannot be part of a format; in code write two forms with the space "
            "between them, in a parameter value declare two parameters",
        )
    elif rest[0].isdigit() and last:
        raise ParamError(
            expression,
            f"{rest[0]!r} cannot follow {last!r}: an offset starts with + or -, "
            f"other text goes {outside}",
        )
    else:
        raise ParamError(expression, f"{rest[0]!r} is not a format token or a separator")
    fmt, offset = body[:cut], body[cut:]
    if not fmt:
        example = "${yyyymmdd-1}" if curly else "$[yyyymmdd-1]"
        raise ParamError(expression, f"the format comes before the offset, as in {example}")
    for edge in (fmt[0], fmt[-1]):
        if edge in _SEPARATORS:
            raise ParamError(
                expression,
                f"a format begins and ends with a token, not {edge!r}; write other text {outside}",
            )
    _check_offset(offset, expression, curly=curly)
    return fmt, offset


def _check_offset(offset: str, expression: str, *, curly: bool) -> None:
    """Refuse an offset outside ``([+-]N([*/]N)*)*``, naming the first thing that breaks it."""
    valid = _OFFSET.match(offset)
    assert valid is not None  # the empty offset matches
    rest = offset[valid.end() :]
    if not rest:
        return
    char, after = rest[0], rest[1:2]
    if char in "*/" and after and after in "+-":
        why = f"a multiplier or divisor has no sign: write -1{char}24, not -1{char}{after}24"
    elif char in "+-*/":
        why = f"{char!r} must be followed by a whole number"
    elif char in ".,":
        why = (
            "decimals are not allowed; ${...} moves whole days, months or years "
            "(for part of a day use $[...] with a fraction such as -1/2)"
            if curly
            else "decimals are not allowed; write a fraction of a day, "
            "e.g. -1/2 for 12 hours or -1/24 for an hour"
        )
    elif char.isalpha():
        why = (
            "units are not written; N counts the smallest unit of the format, "
            "so ${yyyymmdd-7} is a week back and ${yyyymm-1} a month back"
            if curly
            else "units are not written; the offset counts days, "
            "so -7 is a week back and -1/24 an hour back"
        )
    else:
        why = f"{char!r} cannot be part of an offset"
    raise ParamError(expression, f"{offset!r} is not an offset: {why}")


def _is_name(body: str) -> bool:
    """A plain identifier with letters outside format tokens names a parameter (``bizdate``).

    ``yyyymmdd``, ``mm`` or ``yyyy_mm_dd`` are formats (the last a wrong one) even though
    they are identifiers.
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
