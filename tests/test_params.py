"""Scheduling parameters, spec section 5 (and section 13 items 8 and 9).

Every expected value below is taken from the spec (table 5.3 or the rules in 5.1/5.2), never from
running the code.
"""

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from opscenter.domain.params import (
    ParamError,
    problems_in_code,
    problems_in_value,
    render,
    resolve,
    substitute,
)


def ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").date()


# (row, expression, cyct, biz, expected) -- spec table 5.3, one line per expression.
TABLE = [
    (1, "${yyyymmdd}", "2025-11-01 02:30:45", "20251031", "20251031"),
    (2, "$[yyyymmddhh24miss]", "2025-11-01 02:30:45", "20251031", "20251101023045"),
    (3, "${mm}", "2025-11-01 02:30:45", "20251031", "10"),
    (3, "$[mm]", "2025-11-01 02:30:45", "20251031", "11"),
    (4, "${dd}", "2025-11-01 02:30:45", "20251031", "31"),
    (4, "$[dd]", "2025-11-01 02:30:45", "20251031", "01"),
    (5, "$[hh24]", "2025-11-01 02:30:45", "20251031", "02"),
    (5, "$[hh]", "2025-11-01 02:30:45", "20251031", "02"),
    (5, "$[mi]", "2025-11-01 02:30:45", "20251031", "30"),
    (5, "$[ss]", "2025-11-01 02:30:45", "20251031", "45"),
    (6, "${yyyymm}", "2025-11-01 02:30:45", "20251031", "202510"),
    (6, "$[yyyymm]", "2025-11-01 02:30:45", "20251031", "202511"),
    (7, "${yyyy-mm-dd}", "2025-11-01 02:30:45", "20251031", "2025-10-31"),
    (7, "$[yyyy-mm-dd]", "2025-11-01 02:30:45", "20251031", "2025-11-01"),
    (8, "$bizdate", "2025-11-01 02:30:45", "20251031", "20251031"),
    (8, "$cyctime", "2025-11-01 02:30:45", "20251031", "20251101023045"),
    (9, "${yyyymm}01", "2023-10-28 00:00:00", "20231027", "20231001"),
    (10, "$[yyyymmddhh24miss]", "2025-03-15 00:00:00", "20250314", "20250315000000"),
    (11, "${yyyymmdd}", "2025-03-16 00:00:00", "20250315", "20250315"),
    (12, "$[yyyymmddhh24miss]", "2025-03-16 00:00:00", "20250315", "20250316000000"),
    (13, "$gmtdate", "2025-03-16 00:00:00", "20250315", "20250316"),
    (14, "$[add_months(yyyymmdd,-1)]", "2025-03-31 00:00:00", "20250330", "20250228"),
    (15, "$[yyyy-mm]", "2025-07-27 00:05:00", "20250726", "2025-07"),
    (16, "$[yyyymmdd-15/24/60]", "2025-07-27 00:05:00", "20250726", "20250726"),
    (17, "$[hh24-15/24/60]", "2025-07-27 00:05:00", "20250726", "23"),
    (18, "$[mi-15/24/60]", "2025-07-27 00:05:00", "20250726", "50"),
    (19, "$[yyyymm-15/24/60]", "2025-07-27 00:05:00", "20250726", "202507"),
    (19, "$[yyyy-15/24/60]", "2025-07-27 00:05:00", "20250726", "2025"),
    (20, "$[yyyymmddhh24-1/24]", "2025-07-27 00:05:00", "20250726", "2025072623"),
    (21, "$[yyyymmddhh24]", "2025-07-27 00:05:00", "20250726", "2025072700"),
    (22, "$[yyyymmdd-1]", "2025-07-27 00:05:00", "20250726", "20250726"),
    (22, "$[yyyymmdd]", "2025-07-27 00:05:00", "20250726", "20250727"),
    (23, "$gmtdate", "2025-11-01 00:00:00", "20251031", "20251101"),
    (24, "$bizdate", "2022-11-22 01:00:00", "20221121", "20221121"),
    (25, "$[yyyymmddhh24miss]", "2022-11-22 01:00:00", "20221121", "20221122010000"),
    (26, "${yyyy-1}", "2025-11-01 02:30:45", "20251031", "2024"),
    (27, "${yyyymm-1}", "2025-11-01 02:30:45", "20251031", "202509"),
    (28, "${yyyymmdd-7*1}", "2025-11-01 02:30:45", "20251031", "20251024"),
    (29, "$[add_months(yyyymmdd,-12)]", "2025-11-01 02:30:45", "20251031", "20241101"),
    (30, "$[hh24mi-1/24]", "2025-11-01 00:15:00", "20251031", "2315"),
    (31, "$[yyyymmddhh24-1/24]", "2025-01-01 00:00:00", "20241231", "2024123123"),
    (32, "$[yyyymmddhh24miss-5/24/60]", "2025-01-01 00:02:00", "20241231", "20241231235700"),
    (33, "$[yyyymmdd-1-1/24]", "2025-03-01 00:30:00", "20250228", "20250227"),
    (34, "${yyyymmdd-1}", "2024-03-02 00:00:00", "20240301", "20240229"),
    (35, "$[add_months(yyyymmdd,-1)]", "2024-03-31 00:00:00", "20240330", "20240229"),
    (36, "$[add_months(yyyymmdd,12)]", "2024-02-29 00:00:00", "20240228", "20250228"),
    (37, "${yyyymm-1}", "2025-01-16 00:00:00", "20250115", "202412"),
    (38, "$[yyyymm-1]", "2025-11-15 00:00:00", "20251114", "202511"),
    (39, "$bizmonth", "2025-11-15 00:00:00", "20251114", "202510"),
    (40, "${yyyymmdd}", "2025-11-01 23:00:00", "20251031", "20251031"),
    (41, "$[yyyy-mm-dd-2]", "2019-01-14 01:00:00", "20190113", "2019-01-12"),
]


@pytest.mark.parametrize(
    ("expression", "cyct", "biz", "expected"),
    [pytest.param(*row[1:], id=f"row{row[0]}:{row[1]}") for row in TABLE],
)
def test_spec_table(expression: str, cyct: str, biz: str, expected: str) -> None:
    # The biz column is the default business date (the day before cyctime) ...
    assert render(expression, ts(cyct)) == expected
    # ... and passing it explicitly, as a backfill does, gives the same value.
    assert render(expression, ts(cyct), bizdate=day(biz)) == expected


CYCT = ts("2025-11-01 02:30:45")  # rows 1-8


@pytest.mark.parametrize(
    "expression",
    [
        "${hh24}",
        "${mi}",
        "${yyyymmddhh24}",
        "${yyyy-mm-dd-1/24}",
        "${region}",
        "${}",
        "${yyyymmdd",
        "$[yyyymmdd",
        "$[]",
        "$[region]",
        "$[add_months(yyyymmdd)]",
        "$[add_months(yyyymmdd,x)]",
        "$[add_months(yyyymmdd,-1/2)]",
        "$[add_months(yyyymmdd,-1)days]",
        "$[yyyymmdd-1/0]",
    ],
)
def test_invalid_forms_raise_naming_the_expression(expression: str) -> None:
    with pytest.raises(ParamError) as caught:
        render(f"dt={expression}", CYCT)
    assert caught.value.expression == expression
    assert str(caught.value).startswith(f"invalid parameter expression {expression}: ")


def test_hour_tokens_in_business_date_point_to_scheduled_time() -> None:
    with pytest.raises(ParamError, match=r"\$\[") as caught:
        render("${hh24}", CYCT)
    assert "hour" in caught.value.reason


def test_unknown_name_is_neither_parameter_nor_format() -> None:
    with pytest.raises(ParamError, match="neither a known parameter nor a date format"):
        render("${region}", CYCT)


# Spec 5.2: a format is tokens joined by - : /, then an offset ([+-]N([*/]N)*)*; anything else
# is refused with the reason, never rendered as a date plus literal text.
OUTSIDE_THE_GRAMMAR = [
    ("${yyyymmdd-7d}", "'-7d' is not an offset: units are not written"),
    ("${yyyymmdd+x}", "'+x' is not an offset: '+' must be followed by a whole number"),
    ("${yyyymmdd-}", "'-' is not an offset: '-' must be followed by a whole number"),
    ("${yyyymmdd-0.5}", "'-0.5' is not an offset: decimals are not allowed"),
    ("$[yyyymmdd-1/-24]", "'-1/-24' is not an offset: a multiplier or divisor has no sign"),
    ("$[hh24-0.5]", "'-0.5' is not an offset: decimals are not allowed"),
    ("$[yyyymmdd-1/]", "'-1/' is not an offset: '/' must be followed by a whole number"),
    ("$[yyyymmdd-1*]", "'*' must be followed by a whole number"),
    ("$[hh24-1h]", "'-1h' is not an offset: units are not written"),
    ("$[add_months(yyyymmdd,-1)-7d]", "'-7d' is not an offset: units are not written"),
    ("$[add_months(yyyymmdd-1,-1)]", "add_months takes a format only"),
    ("$[add_months(yyyy.mm,-1)]", "'.' is not a format token or a separator"),
    ("$[add_months(yyyymmdd,-1+1)]", "'-1+1' is not a number of months"),
    ("${yyyy年mm月dd日}", "'年' is not a format token or a separator"),
    ("${yyyy_mm_dd}", "'_' is not a format token or a separator"),
    ("${yyyy.mm.dd}", "'.' is not a format token or a separator"),
    ("$[yyyymmddd]", "'d' is not a format token or a separator"),
    ("$[yyyy-mm-dd hh24:mi:ss]", "a space cannot be part of a format"),
    ("$[hh24:]", "a format begins and ends with a token, not ':'"),
    ("${-yyyy}", "a format begins and ends with a token, not '-'"),
    ("$[hh2]", "'2' cannot follow 'hh': an offset starts with + or -"),
    ("$[+1hh24]", "the format comes before the offset"),
]


@pytest.mark.parametrize(("expression", "says"), OUTSIDE_THE_GRAMMAR)
def test_expressions_outside_the_grammar_are_refused_saying_why(expression: str, says: str) -> None:
    with pytest.raises(ParamError) as caught:
        render(f"dt={expression}", CYCT)
    assert caught.value.expression == expression
    assert says in caught.value.reason, caught.value.reason
    # The hint lists the forms that do exist, for the kind of brackets written.
    if expression.startswith("${"):
        assert "${yyyymmdd-7}" in caught.value.hint and "${yyyymm}01" in caught.value.hint
    else:
        assert "$[hh24-1/24]" in caught.value.hint and "$[add_months(" in caught.value.hint
    assert "joined by - : /" in caught.value.hint and "$bizdate" in caught.value.hint


@pytest.mark.parametrize(("expression", "says"), OUTSIDE_THE_GRAMMAR[:6])
def test_a_stored_value_outside_the_grammar_fails_at_run_time_instead_of_rendering(
    expression: str, says: str
) -> None:
    """A store deployed before the grammar was strict still holds such values: resolving them
    for an instance raises, so no node ever runs with ``20251031-7d``."""
    with pytest.raises(ParamError, match=re.escape(says)):
        resolve({"p": expression}, CYCT)
    with pytest.raises(ParamError, match=re.escape(says)):
        substitute(f"select '{expression}'", {}, CYCT)


def test_literal_text_goes_outside_the_braces() -> None:
    assert render("${yyyy}年${mm}月${dd}日", CYCT) == "2025年10月31日"
    assert render("${yyyy}_${mm}_${dd}", CYCT) == "2025_10_31"
    assert render("$[yyyy-mm-dd] $[hh24:mi:ss]", CYCT) == "2025-11-01 02:30:45"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("$[yyyy-mm-dd hh24:mi:ss]", "a space cannot be part of a format"),
        ("a b", "spaces are not allowed in a value"),
        ("a\tb", "spaces are not allowed in a value"),
        ("$[yyyy-mm-dd]_00:00:00 x", "spaces are not allowed in a value"),
        ("x=1", "'=' is not allowed in a value"),
        ("${yyyymmdd}=", "'=' is not allowed in a value"),
        ("${yyyy-mm-dd-1/24}", "fractional offsets are not allowed"),
        ("${hh24}", "hour, minute and second tokens are not allowed"),
        ("${region}", "neither a known parameter nor a date format"),
        ("${yyyymmdd-7d}", "'-7d' is not an offset"),
    ],
)
def test_a_value_outside_the_rules_is_a_problem(value: str, says: str) -> None:
    [problem] = problems_in_value(value)
    assert value in str(problem) and says in problem.reason


def test_every_problem_in_a_value_is_reported_with_where_it_starts() -> None:
    value = "${yyyymmdd-7d}_$[hh24-0.5]=x"
    found = problems_in_value(value)
    assert [(p.start, p.expression) for p in found] == [
        (0, "${yyyymmdd-7d}"),
        (0, value),
        (15, "$[hh24-0.5]"),
    ]
    assert "'=' is not allowed" in found[1].reason


@pytest.mark.parametrize(
    "value",
    [
        "20250101",
        "abc",
        "${yyyymmdd}",
        "${yyyymm}01",
        "${yyyy-mm-dd-7*1}",
        "$[yyyy-mm-dd]",
        "$[hh24:mi:ss]",
        "$[yyyy/mm/dd-1-1/24]",
        "$bizdate",
        "$jobid",
        "$nodeid",
        "$taskid",
        "$[add_months(yyyymmdd,-1)]",
        "$[add_months(yyyymmddhh24,12*2)-1/24]",
    ],
)
def test_a_value_within_the_rules_has_no_problem(value: str) -> None:
    assert problems_in_value(value) == []


def test_builtins_match_whole_words_only() -> None:
    text = "$bizdate_x $bizdates $cyctime2 $1 $2 $"
    assert render(text, CYCT) == text


def test_builtin_followed_by_punctuation() -> None:
    assert render("'$bizdate',$cyctime;", CYCT) == "'20251031',20251101023045;"


def test_legacy_system_names() -> None:
    text = "${bdp.system.bizdate} ${bdp.system.cyctime}"
    assert render(text, CYCT) == "20251031 20251101023045"


def test_concatenation_of_forms_and_literals() -> None:
    text = "dt=${yyyymmdd} and hr=$[hh24] at $cyctime for $bizdate/${yyyymm}01"
    assert render(text, CYCT) == "dt=20251031 and hr=02 at 20251101023045 for 20251031/20251001"


def test_text_without_parameters_is_unchanged() -> None:
    text = "select a, '$' as d, b$c from t where x = 'USD $5' -- {} []"
    assert render(text, CYCT) == text


def test_tokens_are_case_insensitive_and_separators_copied_as_written() -> None:
    assert render("${YYYY/MM/DD}", CYCT) == "2025/10/31"
    assert render("$[YYYY-MM-DD]T$[HH24:MI:SS]", CYCT) == "2025-11-01T02:30:45"


def test_two_digit_year_and_twelve_hour_clock() -> None:
    afternoon = ts("2025-11-01 14:05:00")
    assert render("${yy}$[yy]", afternoon) == "2525"
    assert render("$[hh] $[hh12] $[hh24]", afternoon) == "02 02 14"
    # On a 12-hour clock the hour after midnight is 12, not 00.
    assert render("$[hh] $[hh24]", ts("2025-11-01 00:15:00")) == "12 00"


def test_ids_render_when_known() -> None:
    text = "$jobid/$nodeid/$taskid"
    assert render(text, CYCT, job_id=7, node_id=42, instance_id=9001) == "7/42/9001"


@pytest.mark.parametrize("builtin", ["$jobid", "$nodeid", "$taskid"])
def test_missing_ids_raise(builtin: str) -> None:
    with pytest.raises(ParamError, match="not known in this context") as caught:
        render(f"id={builtin}", CYCT, job_id=None, node_id=None, instance_id=None)
    assert caught.value.expression == builtin


def test_backfill_uses_selected_date_and_next_day_at_node_time() -> None:
    # Backfill of business date 2025-03-15 for a node scheduled at 08:00:
    # ${...} uses the selected date, $[...] the next day at 08:00, $gmtdate = selected + 1.
    values = render(
        "${yyyymmdd} $[yyyymmddhh24miss] $gmtdate $bizdate",
        ts("2025-03-16 08:00:00"),
        bizdate=date(2025, 3, 15),
    )
    assert values == "20250315 20250316080000 20250316 20250315"


def test_explicit_bizdate_drives_business_date_forms_only() -> None:
    text = "${yyyymmdd} ${yyyymmdd-1} $bizdate $gmtdate $[yyyymmdd]"
    rendered = render(text, ts("2025-03-16 00:00:00"), bizdate=date(2025, 1, 1))
    assert rendered == "20250101 20241231 20250101 20250102 20250316"


def test_gmtdate_is_the_scheduled_date_not_the_start_time() -> None:
    # Section 13 item 8: an instance scheduled late in the day still renders its scheduled date.
    assert render("$gmtdate", ts("2025-11-01 23:59:59")) == "20251101"


def test_bizmonth_when_bizdate_is_the_last_day_of_its_month() -> None:
    # bizdate 20251031: its month differs from the current month, so it is bizdate's own month.
    assert render("$bizmonth", ts("2025-11-01 00:00:00")) == "202510"


def test_business_date_month_offsets_clamp_to_month_end() -> None:
    assert render("${yyyymmdd-1}", ts("2025-03-01 00:00:00")) == "20250227"
    assert render("${yyyy-mm-1}", ts("2025-04-01 00:00:00")) == "2025-02"
    assert render("${yyyymm+1}", ts("2025-02-01 00:00:00")) == "202502"


def test_add_months_with_year_multiplier() -> None:
    assert render("$[add_months(yyyymmdd,12*2)]", CYCT) == "20271101"


def test_add_months_followed_by_a_day_offset() -> None:
    # 2025-03-15 00:30 one month back and one hour earlier is 2025-02-14 23:30.
    cyct = ts("2025-03-15 00:30:00")
    assert render("$[add_months(yyyymmdd,-1)-1/24]", cyct) == "20250214"
    assert render("$[add_months(yyyymmddhh24mi,-1)-1/24]", cyct) == "202502142330"


def test_offsets_are_exact() -> None:
    # 1/24/60 of a day is exactly one minute and 1/3 of a day exactly eight hours.
    assert render("$[hh24miss-1/24/60]", ts("2025-11-01 00:00:00")) == "235900"
    assert render("$[hh24miss+1/3]", ts("2025-11-01 00:00:00")) == "080000"


def test_aware_cyctime_uses_its_wall_clock() -> None:
    aware = datetime(2025, 11, 1, 2, 30, 45, tzinfo=timezone(timedelta(hours=8)))
    assert render("$cyctime $bizdate", aware) == "20251101023045 20251031"


def test_resolve_renders_each_assignment_in_order() -> None:
    assignments = {"bizdate": "$bizdate", "hour": "$[hh24]", "region": "cn", "last": "${yyyymm-1}"}
    resolved = resolve(assignments, CYCT, instance_id=5)
    assert resolved == {"bizdate": "20251031", "hour": "02", "region": "cn", "last": "202509"}
    assert list(resolved) == ["bizdate", "hour", "region", "last"]


def test_substitute_fills_names_and_renders_other_forms() -> None:
    code = "select * from t where ds='${bizdate}' and hr=$[hh24] and r='${region}' and m=${mm}"
    values = {"bizdate": "20251031", "region": "cn"}
    assert substitute(code, values, CYCT) == (
        "select * from t where ds='20251031' and hr=02 and r='cn' and m=10"
    )


def test_substitute_rejects_undeclared_names() -> None:
    with pytest.raises(ParamError, match="neither a known parameter") as caught:
        substitute("select '${region}'", {}, CYCT)
    assert caught.value.expression == "${region}"


def test_code_problems_name_undeclared_parameters_and_bad_forms_where_they_start() -> None:
    code = (
        "select ${bizdate}, ${region}, ${dt_1}, ${yyyymmdd}, ${mm}, ${yyyy_mm_dd}, "
        "${yyyymmdd-7d}, ${bdp.system.bizdate}, $[hh24], $[hh24-0.5], $bizdate"
    )
    found = problems_in_code(code, {"bizdate", "dt_1"})
    assert [(p.expression, p.start) for p in found] == [
        ("${region}", code.index("${region}")),
        ("${yyyy_mm_dd}", code.index("${yyyy_mm_dd}")),
        ("${yyyymmdd-7d}", code.index("${yyyymmdd-7d}")),
        ("$[hh24-0.5]", code.index("$[hh24-0.5]")),
    ]
    assert found[0].reason == "the node has no parameter 'region'"
    assert found[0].hint == "declare it under parameters, e.g. region: $bizdate"
    assert problems_in_code("select 1", set()) == []


def test_a_declared_parameter_wins_over_a_format_of_the_same_name() -> None:
    assert problems_in_code("select ${yyyy_mm_dd}, ${mm}", {"yyyy_mm_dd", "mm"}) == []
