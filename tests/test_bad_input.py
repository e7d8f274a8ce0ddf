"""Bad input (issue 7 item 4): whatever a workspace author, an operator or a network client
sends, opscenter answers in its own words, never with a traceback.

Property-based (hypothesis): every test is derandomized, with no example database, so CI
runs the same examples every time; ``max_examples`` is bounded so the file stays well
under a minute on two cores. The properties:

- workspace YAML (generated trees, mutated real workspaces, arbitrary text and bytes)
  either loads or raises ``WorkspaceError`` whose every problem names this file, a line
  inside it, a column, and the field (only problems about the document as a whole, such
  as broken YAML, have no field); no other exception escapes;
- scheduling-parameter expressions either render or raise ``ParamError`` naming the
  expression; text without ``$`` comes back unchanged;
- cron strings either parse or raise ``CronError`` naming a field; a parsed schedule's
  next fire times are increasing, strictly after the start and on the schedule;
- the command line (``main`` in-process over a deployed workspace, and a few in a real
  subprocess) exits 0-4 with a message and no Python traceback, whatever its arguments;
- the DataWorks emulator answers every request, signed or not, tampered or not, with a
  JSON body: a success, or the gateway's error shape (RequestId, Code, Message) and a
  4xx status, never a 5xx;
- scheduling parameters full of shell metacharacters reach shell nodes run by the real
  engine verbatim, as data, and nothing they spell out is executed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import string
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from opscenter import cli, webserver
from opscenter.backends.dataworks import emulator as emulator_module
from opscenter.config import load_config
from opscenter.domain.clock import ManualClock
from opscenter.domain.cron import CronError, parse_cron
from opscenter.domain.params import (
    ParamError,
    problems_in_code,
    problems_in_value,
    render,
    resolve,
    substitute,
)
from opscenter.errors import UsageError
from opscenter.project.loader import load_workspace
from opscenter.project.problems import WorkspaceError
from opscenter.scheduler import daemon
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from opscenter.store.deploy import deploy
from tests.harness import DEPLOYED_AT, START, World, at
from tests.processes import run_opscenter
from tests.test_dataworks_emulator import ERROR_KEYS, scene, send, server, v3_request
from tests.test_workspace_loader import MINI

__all__ = ["scene", "server"]  # the emulator's world and server fixtures, reused

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo"

# Bounded and deterministic: the same examples on every run, no example database.
BOUNDED = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,  # the fixtures are shared by all examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}


# -- workspace YAML ---------------------------------------------------------------------

from opscenter.project.alert_rules import _KEYS as ALERT_KEYS  # noqa: E402
from opscenter.project.baselines import _BASELINE_KEYS  # noqa: E402
from opscenter.project.loader import (  # noqa: E402
    _NODE_KEYS,
    _TOP_KEYS,
    _TRIGGER_KEYS,
    _WORKSPACE_KEYS,
)

KEYS = sorted(
    _TOP_KEYS | _WORKSPACE_KEYS | _NODE_KEYS | _TRIGGER_KEYS | _BASELINE_KEYS | ALERT_KEYS
) + ["node", "slots", "bizdate", "x"]
SCALARS = [
    "",
    "~",
    "null",
    "true",
    "1",
    "-1",
    "0",
    "9" * 40,
    "1e9",
    "1.5",
    "1_0",
    "00 30 00 * * ?",
    "00 */1 * * * ?",
    "00 30 02 ? 3 7#2",
    "shell",
    "sql",
    "virtual",
    "python",
    "quality",
    "Normal",
    "Skip",
    "T+1",
    "Immediately",
    "CrossCycleDependsOnSelf",
    "CrossCycleDependsOnOtherNode",
    "load",
    "report",
    "etl",
    "default",
    "mini",
    "Asia/Shanghai",
    "Not/AZone",
    "../x",
    "/etc/passwd",
    "sql/dim_date.sql",
    "08:00",
    "47:59",
    "48:00",
    "2025-01-01",
    "2025-13-40",
    "$bizdate",
    "${yyyymmdd-1}",
    "$[hh24-1/24]",
    "${",
    "${x}",
    "90s",
    "31m",
    "30m",
    "DAILY",
    "HOURLY",
    "Error",
    "BaselineOver",
    "23:00-07:00",
    "https://x",
    "ftp://x",
    "SELECT 1",
    "SELECT '${bizdate}'",
    "SELECT '${nope}'",
]
# Inserted by the mutations: YAML's own syntax, anchors, aliases, tags, odd characters.
SNIPPETS = [*":-{}[],&*!|>'\"#%@` \t?", "x", "*a", "&a", "!!binary", "!!python/name:os.system"]
SNIPPETS += ["\x00", "\ufeff", "\u2028", "é"]


def yaml_values(depth: int) -> st.SearchStrategy:
    scalar = st.one_of(st.sampled_from(SCALARS), st.text(max_size=12), st.integers(-(10**6), 10**6))
    if depth == 0:
        return scalar
    inner = yaml_values(depth - 1)
    keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=5))
    return st.one_of(scalar, st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=5))


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """A real workspace with a few lines deleted, duplicated, swapped, re-indented or
    with YAML syntax inserted."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        match draw(st.sampled_from(["del", "dup", "insert", "char", "indent", "swap"])):
            case "del":
                del lines[index]
            case "dup":
                lines.insert(index, lines[index])
            case "insert":
                lines.insert(index, draw(st.text(max_size=20)))
            case "char":
                line = lines[index]
                at_ = draw(st.integers(0, len(line)))
                lines[index] = line[:at_] + draw(st.sampled_from(SNIPPETS)) + line[at_:]
            case "indent":
                lines[index] = draw(st.sampled_from(["", " ", "  ", "\t"])) + lines[index]
            case "swap":
                other = draw(st.integers(0, len(lines) - 1))
                lines[index], lines[other] = lines[other], lines[index]
        if not lines:
            break
    return "\n".join(lines) + "\n"


DEMO_TEXT = (DEMO / "workspace.yaml").read_text(encoding="utf-8")
DOCUMENTS = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), yaml_values(3), max_size=6).map(
        lambda tree: yaml.safe_dump(tree, allow_unicode=True)
    ),
    mutated(MINI),
    mutated(DEMO_TEXT),
    st.text(max_size=200),
    st.binary(max_size=100),
)
# Problems about the document as a whole: the YAML itself, or its top level.
DOCUMENT_LEVEL = (
    "not valid YAML",
    "the file is empty",
    "cannot read",
    "missing required key",
    "expected a mapping of keys",
    "a key must be a name",
)


@pytest.fixture(scope="module")
def yaml_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's folder, so mutated demo files still find their code files."""
    folder = tmp_path_factory.mktemp("ws")
    shutil.copytree(DEMO, folder, dirs_exist_ok=True)
    return folder


def assert_loads_or_says_where(folder: Path, document: str | bytes) -> None:
    path = folder / "workspace.yaml"
    if isinstance(document, bytes):
        path.write_bytes(document)
    else:
        path.write_text(document, encoding="utf-8", errors="surrogatepass")
    try:
        load_workspace(folder)
    except WorkspaceError as error:
        assert error.problems
        for problem in error.problems:
            # workspace.yaml, or a code file it names (a form in SQL, at its line)
            file = Path(problem.file)
            assert file == path or folder in file.parents, problem
            lines = file.read_bytes().count(b"\n") + 1
            assert 1 <= problem.line <= lines + 1 and problem.column >= 1, problem
            assert problem.message, problem
            assert problem.field or problem.message.startswith(DOCUMENT_LEVEL), problem
            assert f"{file}:{problem.line}:{problem.column}: " in str(error)


@settings(max_examples=250, **BOUNDED)
@given(document=DOCUMENTS)
def test_any_workspace_file_loads_or_every_problem_says_file_line_and_field(
    yaml_folder: Path, document: str | bytes
) -> None:
    assert_loads_or_says_where(yaml_folder, document)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("? [1, 2]\n: x\nworkspace: {name: a}\nnodes: []\n", id="a list as a key"),
        pytest.param(
            "workspace: {name: a, parameters: {? {a: 1} : 2}}\nnodes: []\n", id="a mapping as key"
        ),
        pytest.param("&a {workspace: {name: a}, nodes: [], *a : 1}\n", id="recursive alias key"),
        pytest.param("workspace: {name: a}\nnodes: &a [*a]\n", id="recursive alias list"),
        pytest.param(b"\xff\xfeworkspace: x\n", id="not UTF-8"),
        pytest.param("workspace: {name: a}\nnodes: [{priority: 1e99999}]\n", id="huge number"),
    ],
)
def test_hostile_yaml_shapes_are_located_problems(yaml_folder: Path, document: str) -> None:
    assert_loads_or_says_where(yaml_folder, document)  # where it failed, if it failed
    with pytest.raises(WorkspaceError):  # and it did fail
        load_workspace(yaml_folder)


# -- scheduling parameters ----------------------------------------------------------------

PARAM_ATOMS = ["$", "{", "}", "[", "]", "$[", "${", "yyyy", "yy", "mm", "dd", "hh24", "hh12"]
PARAM_ATOMS += ["hh", "mi", "ss", "-", "+", "*", "/", "0", "1", "24", "60", "9" * 30, "(", ")"]
PARAM_ATOMS += ["add_months(", ",", "bizdate", "$bizdate", "$cyctime", "$gmtdate", "$bizmonth"]
PARAM_ATOMS += ["$jobid", "$nodeid", "$taskid", "bdp.system.bizdate", "x", "_", " ", "\n", "="]
PARAM_ATOMS += ["é", "\x00", "²"]
EXPRESSIONS = st.one_of(st.lists(st.sampled_from(PARAM_ATOMS), max_size=12).map("".join), st.text())
CYCTIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 31))
ID_ARGS = st.one_of(st.none(), st.integers(0, 10**6))


@settings(max_examples=600, **BOUNDED)
@given(text=EXPRESSIONS, cyctime=CYCTIMES, bizdate=st.one_of(st.none(), st.dates()), ids=ID_ARGS)
def test_any_parameter_expression_renders_or_raises_param_error_naming_it(
    text: str, cyctime: datetime, bizdate: date | None, ids: int | None
) -> None:
    calls = {
        "render": lambda: render(
            text, cyctime, bizdate=bizdate, node_id=ids, instance_id=ids, job_id=ids
        ),
        "resolve": lambda: resolve({"p": text}, cyctime, bizdate=bizdate, instance_id=ids)["p"],
        "substitute": lambda: substitute(text, {"x": "1"}, cyctime, bizdate=bizdate),
    }
    for name, call in calls.items():
        try:
            value = call()
        except ParamError as error:
            assert_names_the_expression(text, error)
        else:
            assert isinstance(value, str), name
            if "$" not in text:
                assert value == text, name
    # The load-time checks find every problem, each where its expression starts.
    for problem in [*problems_in_value(text), *problems_in_code(text, {"x"})]:
        assert_names_the_expression(text, problem)
        assert text.startswith(problem.expression, problem.start), problem


def assert_names_the_expression(text: str, error: ParamError) -> None:
    assert error.expression and error.expression in text, error
    assert error.reason and str(error).startswith("invalid parameter expression"), error


# -- YAML syntax -------------------------------------------------------------------------

# PyYAML's words alone do not say how to fix a value with ": " in it, unquoted.
COLON_IN_A_VALUE = "description: ratio: high"
YAML_HINT = "(hint: quote a value that contains ': ' or ' #', or that starts with * & ! { [ % @ "
UNPARSED = "; nothing else in the file can be checked until it parses"


def run_process(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(home / "xdg"), "XDG_CONFIG_HOME": str(home)}
    env.pop("OPSCENTER_CONFIG", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return run_opscenter(*argv, env=env, cwd=home)


def test_a_workspace_that_is_not_yaml_says_where_why_and_what_to_check(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    path = folder / "workspace.yaml"
    path.write_text(
        f"workspace: {{name: ws}}\nnodes:\n  - name: a\n    {COLON_IN_A_VALUE}\n", encoding="utf-8"
    )
    where = f"{path}:4:23: not valid YAML: mapping values are not allowed here{UNPARSED} "
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(folder)
    assert str(caught.value).splitlines()[1].startswith(where + YAML_HINT)
    done = run_process("validate", str(folder), home=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert where + YAML_HINT in done.stderr and "Traceback" not in done.stderr


def test_a_config_file_that_is_not_yaml_says_where_why_and_what_to_check(tmp_path: Path) -> None:
    """The console's config file: its own problems name file:line, the column in words."""
    path = tmp_path / "opscenter" / "config.yaml"
    path.parent.mkdir()
    path.write_text("backend: local\ndataworks:\n  region: cn: shanghai\n", encoding="utf-8")
    where = f"{path}:3:13: not valid YAML: mapping values are not allowed here{UNPARSED} "
    with pytest.raises(UsageError) as caught:
        load_config(path)
    assert str(caught.value).startswith(where + YAML_HINT)
    done = run_process("status", home=tmp_path)  # the default config file, read first
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"opscenter: {where}{YAML_HINT}")


# -- cron -----------------------------------------------------------------------------------

CRON_ATOMS = ["*", "?", "L", "0", "00", "5", "59", "60", "1-5", "5-1", "*/5", "0/15", "1#2"]
CRON_ATOMS += ["7#5", "MON", "sun", "JAN", "1,3", "", "L,1", "/", "-", "#", "1#0", "10-20/3"]
CRON_ATOMS += ["31", "30", "29", "2", "12", "13", "W", "5L", "３", "²", " ", "\t", "\n"]
CRON_FIELD = st.lists(st.sampled_from(CRON_ATOMS), min_size=1, max_size=3).map("".join)
CRONS = st.one_of(
    st.lists(CRON_FIELD, min_size=6, max_size=6).map(" ".join),
    st.lists(CRON_FIELD, max_size=8).map(" ".join),
    st.text(max_size=40),
)
ZONES = st.sampled_from(
    ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe"]
).map(ZoneInfo)
CRON_FIELDS = {"second", "minute", "hour", "day-of-month", "month", "day-of-week", "expression"}


@settings(max_examples=600, **BOUNDED)
@given(
    expression=CRONS,
    zone=ZONES,
    after=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 1, 1)),
)
def test_any_cron_parses_to_increasing_fire_times_or_raises_cron_error(
    expression: str, zone: ZoneInfo, after: datetime
) -> None:
    try:
        schedule = parse_cron(expression)
    except CronError as error:
        assert error.field in CRON_FIELDS and error.reason, error
        return
    assert schedule.describe()
    start = after.replace(tzinfo=zone)
    fires = schedule.next_fire_times(start, 3, zone)
    assert len(fires) <= 3
    assert all(fire > start for fire in fires)
    assert all(a < b for a, b in zip(fires, fires[1:], strict=False))
    for fire in fires:
        wall = fire.replace(tzinfo=None)
        assert schedule.runs_on(wall.date()), (expression, fire)
        assert (wall.hour, wall.minute, wall.second) in {
            (h, m, 0) for h in schedule.hours for m in schedule.minutes
        }, (expression, fire)


def test_a_time_that_never_exists_in_the_zone_has_no_fire_times_rather_than_a_crash() -> None:
    """02:30 on the second Sunday of March is skipped every year in New York (and 01:30 on a
    fifth Sunday of March in London): the walk used to run to year 9999 and raise."""
    for expression, zone in (
        ("00 30 02 ? 3 7#2", "America/New_York"),
        ("00 30 01 ? 3 7#5", "Europe/London"),
    ):
        tz = ZoneInfo(zone)
        assert parse_cron(expression).next_fire_times(datetime(2025, 1, 1, tzinfo=tz), 5, tz) == []
    tz = ZoneInfo("UTC")
    rare = parse_cron("00 00 00 ? 2 1#5")  # a fifth Monday in February: 2044, 2072, 2112
    assert [f.year for f in rare.next_fire_times(datetime(2025, 1, 1, tzinfo=tz), 3, tz)] == [
        2044,
        2072,
        2112,
    ]
    assert (
        len(parse_cron("00 00 00 * * ?").next_fire_times(datetime(9999, 12, 29, tzinfo=tz), 5, tz))
        == 2
    )


# -- the command line ------------------------------------------------------------------------

CLI_WORKSPACE = """\
workspace: {name: clifuzz, timezone: America/New_York}
nodes:
  - {name: ok, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
  - {name: bad, type: shell, code: "exit 1", trigger: {cron: "00 30 00 * * ?"}}
  - {name: down, type: virtual, depends: [bad], trigger: {cron: "00 30 00 * * ?"}}
  - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
  - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/6 * * ?"}}
  - {name: never, type: virtual, trigger: {cron: "00 30 02 ? 3 7#2"}}
baselines:
  - {name: morning, committed_time: "06:00", nodes: [down]}
"""
CLI_CLOCK = at(6)  # 02:00 in New York: ok and bad ran at 00:30


class CliWorld:
    """A deployed workspace whose instances ran once; each example gets a copy of its store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "clifuzz"
        self.folder.mkdir()
        (self.folder / "workspace.yaml").write_text(CLI_WORKSPACE, encoding="utf-8")
        self.broken = root / "broken"
        self.broken.mkdir()
        (self.broken / "workspace.yaml").write_text("workspace: [\n", encoding="utf-8")
        self.binary = root / "binary.yaml"
        self.binary.write_bytes(b"\xff\x00\xfe" * 10)
        self.store = root / "store" / "state.db"
        self.copies = 0

    def prepare(self) -> None:
        db = open_store(f"sqlite:///{self.store}")
        report = deploy(
            db,
            load_workspace(self.folder),
            self.folder,
            data_dir=self.store.parent,
            now=DEPLOYED_AT,
            user="tester",
        )
        clock = ManualClock(START)
        engine = Engine(db, report.workspace_id, clock)
        try:
            engine.start()
            engine.run_until_idle()
            clock.set(CLI_CLOCK)
            engine.run_until_idle(limit=10)
        finally:
            engine.close()
            db.dispose()

    def fresh_url(self) -> str:
        """A copy of the prepared store: every example starts from the same state."""
        self.copies += 1
        copy = self.root / "copies" / f"{self.copies}.db"
        copy.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.store}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{copy}{suffix}")
        return f"sqlite:///{copy}"


@pytest.fixture(scope="module")
def cli_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliWorld]:
    """Runs in its own folder and state home; verbs that would serve or schedule forever
    return at once (their argument handling and world opening still run)."""
    root = tmp_path_factory.mktemp("cli")
    made = CliWorld(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(root / "xdg"))
        patch.delenv("OPSCENTER_EMULATOR_ACCESS_KEY_ID", raising=False)
        patch.delenv("OPSCENTER_EMULATOR_ACCESS_KEY_SECRET", raising=False)
        patch.chdir(root)
        patch.setattr(daemon, "run_scheduler", lambda *args, **kwargs: None)
        patch.setattr(cli.signal, "signal", lambda *args: None)
        patch.setattr(emulator_module, "serve", lambda *args, **kwargs: None)
        patch.setattr(webserver.ConsoleServer, "run", lambda self: None)
        made.prepare()
        yield made


def verb_parsers() -> dict[str, object]:
    parser = cli._parser()
    (commands,) = (a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(commands.choices)


VERBS = verb_parsers()
IDS = [str(n) for n in range(1, 13)]  # instances, events and backfills of the world
NUMBERS = ["0", "-1", "-99999999999999999999", "9223372036854775807", "9223372036854775808"]
NUMBERS += ["99999999999999999999999", "1e3", "0x10", "٣", "nan", "inf", "40"]
DATES = ["2025-10-31", "2025-11-01", "0001-01-01", "9999-12-31", "9998-12-31", "2025-02-30"]
DATES += ["yesterday", "20251031", "1970-01-01"]
TIMES = ["2025-11-01 02:00", "2025-11-01T02:00", "9999-12-31 23:59", "0001-01-01 00:00", "noon"]
WORDS = ["ok", "bad", "down", "later", "hourly", "never", "morning", "nope", "", "clifuzz_root"]
WORDS += ["../x", "a b", "FAILURE", "NOT_RUN,WAIT_TIME", "fixing", "IGNORE", "periodic"]
WORDS += ["00:00-23:59", "25:00-01:00", "06:00-02:00", "ok,down", "x" * 300, "-", "--"]


def values_for(world: CliWorld, action: object) -> st.SearchStrategy[str]:
    """Plausible and implausible values for one option or positional, by its name."""
    dest = getattr(action, "dest", "")
    choices = list(getattr(action, "choices", None) or [])
    pools = {
        "db": [world.fresh_url(), "sqlite:///:memory:", "nonsense", "sqlite:////proc/nope/x.db"],
        "workspace": [str(world.folder), "clifuzz", "nope", "../escape", str(world.broken), ""],
        "path": [str(world.folder), str(world.broken), str(world.binary), "/nonexistent", "", "/"],
        "bizdate": DATES,
        "start": TIMES + DATES,
        "end": DATES,
        "speed": ["1", "120", "0", "-1", "nan", "inf", "1e308", "x"],
        "port": ["0", "65535", "65536", "-1", "99999999999999999999", "http"],
    }
    numeric = dest in ("id", "ids", "limit", "attempt", "cycle", "parallel", "backfill")
    pool = pools.get(dest) or (IDS if numeric else WORDS)
    likely = st.sampled_from(pool + choices)
    unlikely = st.sampled_from(NUMBERS if numeric else WORDS + DATES + NUMBERS)
    return st.one_of(likely, likely, likely, likely, unlikely, st.text(max_size=8))


@st.composite
def command_lines(draw: st.DrawFn, world: CliWorld) -> list[str]:
    verb = draw(st.sampled_from(sorted(VERBS)))
    sub = VERBS[verb]
    actions = [a for a in sub._actions if a.dest != "help"]
    argv = [verb]
    options = {s: a for a in actions for s in a.option_strings}
    # the prepared world first, so that drawn options can still override it
    if "--workspace" in options:
        argv += ["--workspace", str(world.folder)]
    if "--db" in options:
        argv += ["--db", world.fresh_url()]
    for action in actions:
        if action.required and action.option_strings:
            argv += [action.option_strings[0], draw(values_for(world, action))]
        if action.option_strings:
            continue
        count = {
            "+": draw(st.integers(1, 3)),
            "*": draw(st.integers(0, 2)),
            "?": draw(st.integers(0, 1)),
        }.get(action.nargs, 1)
        argv += [draw(values_for(world, action)) for _ in range(count)]
    for _ in range(draw(st.integers(0, 4))):
        known = st.sampled_from(sorted(options) or ["--nope"])
        name = draw(st.one_of(known, st.sampled_from(["--nope", "--", "-h"])))
        argv.append(name)
        action = options.get(name)
        if action is not None and action.nargs != 0:
            argv.append(draw(values_for(world, action)))
    if draw(st.integers(0, 5)) == 0:
        argv.insert(draw(st.integers(1, len(argv))), draw(st.text(max_size=6)))
    return argv


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv, clock=ManualClock(CLI_CLOCK))
        except SystemExit as exit_:  # argparse: usage errors (2), --help (0)
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(argv: list[str], code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2, 3, 4), (argv, code, err)
    assert "Traceback" not in out + err, (argv, err)
    if code == 0:
        return
    assert err.strip(), (argv, code, "a failure says why")


@settings(max_examples=300, **BOUNDED)
@given(data=st.data())
def test_any_command_line_exits_0_to_4_with_a_message_never_a_traceback(
    cli_world: CliWorld, data: st.DataObject
) -> None:
    argv = data.draw(command_lines(cli_world))
    code, out, err = run_main(argv)
    usage = "usage:" in err  # argparse refused it before any handler ran
    event(f"exit {code}{' (usage)' if usage else ''}")  # see --hypothesis-show-statistics
    assert_clean_exit(argv, code, out, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "99999999999999999999"],
        ["instances", "--limit", "9223372036854775807", "--all-dates"],
        ["instances", "--backfill", "9223372036854775807"],
        ["rerun", "9223372036854775807", "1"],
        ["event", "9223372036854775807", "fixing"],
        ["backfills", "9223372036854775807"],
        ["backfill", "ok", "--from", "9999-12-30", "--to", "9999-12-31", "--preview"],
        ["backfill", "ok", "--from", "0001-01-01", "--to", "0001-01-02"],
        ["node", "never"],
        ["scheduler", "--speed", "nan"],
        ["scheduler", "--speed", "0"],
        ["scheduler", "--start", "9999-12-31 23:59", "--speed", "2"],
        ["emulate", "--port", "99999999", "--access-key-id", "k", "--access-key-secret", "s"],
        ["status", "--db", "sqlite:////proc/nope/state.db"],
        ["status", "--workspace", "../../escape"],
        ["--speed", "nan"],
        ["--start", "9999-12-31"],
    ],
)
def test_arguments_that_used_to_end_in_a_traceback(cli_world: CliWorld, argv: list[str]) -> None:
    verb = VERBS.get(argv[0])
    options = {s for a in verb._actions for s in a.option_strings} if verb else set()
    base = ["--workspace", str(cli_world.folder)] if "--workspace" in options else []
    base += ["--db", cli_world.fresh_url()] if "--db" in options and "--db" not in argv else []
    full = [argv[0], *base, *argv[1:]] if verb else [*argv, "--workspace", str(cli_world.folder)]
    code, out, err = run_main(full)
    assert_clean_exit(full, code, out, err)
    if argv[0] == "node":
        assert code == 0 and "next: \n" in out  # it never fires, and says so by listing none


def test_bad_command_lines_in_a_real_process_print_no_traceback(cli_world: CliWorld) -> None:
    """The installed entry point, as a shell runs it: the exit status and stderr a user sees."""
    url = cli_world.fresh_url()
    where = ["--workspace", str(cli_world.folder), "--db", url]
    cases = [
        (["show", "99999999999999999999", *where], 2, "is too large for an id"),
        (["status", "--db", "sqlite:////proc/nope/state.db"], 2, "cannot create"),
        (["validate", str(cli_world.binary)], 1, "cannot read"),
        (["scheduler", "--speed", "nan", *where], 2, "is not a positive speed"),
        (["node", "never", *where], 0, ""),
    ]
    env = {**os.environ, "XDG_STATE_HOME": str(cli_world.root / "xdg")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for argv, status, says in cases:
        done = run_opscenter(*argv, env=env, cwd=REPO)
        assert (done.returncode, "Traceback" in done.stderr) == (status, False), (argv, done)
        assert says in done.stderr, (argv, done.stderr)


# -- the DataWorks emulator ----------------------------------------------------------------

HEADER_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=30
).map(str.strip)
ACS_HEADERS = ["x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"]
ACS_HEADERS += ["x-acs-content-sha256", "authorization", "content-type", "x-acs-security-token"]
HEADER_VALUES = st.one_of(
    HEADER_TEXT,
    st.sampled_from(
        [
            "ListTasks",
            "2024-05-18",
            "2020-05-18",
            "application/x-www-form-urlencoded",
            "application/json",
            "ACS3-HMAC-SHA256 Credential=LTAI5tEmulatorKey,SignedHeaders=host,Signature=00",
            "ACS3-HMAC-SHA256",
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]
    ),
)
QUERY_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["ListTasks", "2024-05-18", "HMAC-SHA1", "LTAI5tEmulatorKey", "1", ""]),
)
QUERY_NAMES = ["Action", "Version", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp"]
QUERY_NAMES += ["AccessKeyId", "SignatureVersion", "Format", "ProjectId", "Id"]


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    """A request as any client might send it: mostly nonsense, never correctly signed."""
    path = draw(st.sampled_from(["/", "/", "/x", "//", "/?", "/%zz"]))
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), QUERY_VALUES, max_size=5))
    target = path + ("?" + urlencode(query) if query and "?" not in path else "")
    headers = draw(st.dictionaries(st.sampled_from(ACS_HEADERS), HEADER_VALUES, max_size=6))
    body = draw(
        st.one_of(
            st.just(b""),
            st.binary(max_size=40),
            st.dictionaries(st.sampled_from(QUERY_NAMES), QUERY_VALUES, max_size=4).map(
                lambda form: urlencode(form).encode()
            ),
            st.builds(
                lambda v: json.dumps(v).encode(),
                st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
            ),
        )
    )
    return draw(st.sampled_from(["GET", "POST"])), target, headers, body


def assert_error_shape(response: httpx.Response) -> dict:
    """The gateway's error shape (spec 2.6) and a client error, never a server one."""
    body = response.json()
    assert isinstance(body, dict), response.text
    assert 400 <= response.status_code < 500, (response.status_code, body)
    assert set(body) >= ERROR_KEYS and body["RequestId"] and body["Code"], body
    assert "Traceback" not in body["Message"], body
    return body


@settings(max_examples=150, **BOUNDED)
@given(request=raw_requests())
def test_any_unsigned_request_gets_the_error_shape(server, request) -> None:  # noqa: ANN001
    method, target, headers, body = request
    with httpx.Client(base_url=server.url) as http:
        response = http.request(method, target, headers=headers, content=body)
    assert_error_shape(response)


PARAM_NAMES = [
    "Id",
    "NodeId",
    "Owner",
    "Name",
    "Status",
    "Ids",
    "Type",
    "Bizdate",
    "TriggerRecurrence",
    "Trigger",
    "TaskType",
    "TaskId",
    "SortBy",
    "Recurrence",
    "Parallelism",
    "NodeName",
    "DagId",
    "BizDate",
    "WorkflowInstanceType",
    "WorkflowInstanceId",
    "WorkflowId",
    "TopicTypes",
    "TopicStatuses",
    "TopicId",
    "Tasks",
    "TaskName",
    "TaskIds",
    "StartTime",
    "RunNumber",
    "RunMode",
    "RootNodeId",
    "RerunMode",
    "ProjectId",
    "ProjectEnv",
    "Periods",
    "PageSize",
    "PageNumber",
    "OperationId",
    "ObjectIds",
    "ObjectId",
    "Mode",
    "InstanceId",
    "InstanceHistoryId",
    "IncludeNodeIds",
    "ExcludeNodeIds",
    "EndTime",
    "BeginTime",
    "DefaultRunProperties",
    "BizDates",
    "BizBeginTime",
    "BizEndTime",
    "BaselineId",
]
# Epoch-millisecond and date fields get values the emulator can turn into dates (see
# test_known_emulator_crashes for the ones it cannot yet).
TIME_NAMES = {"Bizdate", "BizDate", "StartTime", "EndTime", "BeginTime", "BizBeginTime"}
TIME_NAMES |= {"BizEndTime"}
ASCII_TEXT = st.text(alphabet=string.printable, max_size=10)
SCALAR_VALUES = st.one_of(
    st.integers(-5, 40),
    st.sampled_from([2**63 - 1, 2**63, 10**30, -(10**30)]),
    ASCII_TEXT,
    st.sampled_from(["", "null", "true", "1e3", "NaN", "Id Asc", "Failure", "Pause", "General"]),
    st.sampled_from(["2025-10-31", "2025-10-31T00:00:00Z", "2025-10-31 00:00:00", "9" * 25]),
)
TIME_VALUES = st.one_of(
    st.integers(-(10**12), 10**13).map(str),
    st.sampled_from(["", "2025-10-31", "2025-10-31T00:00:00Z", "2025-10-31 00:00:00", "x"]),
)
NESTED_KEYS = st.sampled_from([*PARAM_NAMES, "StartBizDate", "EndBizDate", "Analysis"])
JSON_VALUES = st.recursive(
    SCALAR_VALUES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(NESTED_KEYS, inner, max_size=3)
    ),
    max_leaves=6,
)


def wire(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def operation_calls(draw: st.DrawFn, operations: list) -> tuple[str, str, dict[str, str]]:
    version, action = draw(st.sampled_from(operations))
    names = draw(st.lists(st.sampled_from(PARAM_NAMES), max_size=5, unique=True))
    params = {
        name: draw(TIME_VALUES) if name in TIME_NAMES else wire(draw(JSON_VALUES)) for name in names
    }
    return version, action, params


@settings(max_examples=200, **BOUNDED)
@given(data=st.data())
def test_any_signed_call_answers_json_and_errors_have_the_shape(
    server,  # noqa: ANN001
    scene,  # noqa: ANN001
    data: st.DataObject,
) -> None:
    """Every operation the emulator serves, with arbitrary fields and JSON values."""
    operations = sorted(server.emulator.operations.table)
    version, action, params = data.draw(operation_calls(operations))
    if data.draw(st.booleans()):
        params.setdefault("ProjectId", str(scene.workspace_id))
    in_query = data.draw(st.booleans())
    request = v3_request(
        server.url,
        action,
        version=version,
        query=params if in_query else None,
        body=b"" if in_query else urlencode(params).encode(),
    )
    response = send(request)
    body = response.json()
    assert isinstance(body, dict) and body["RequestId"], body
    if response.status_code != 200:
        assert_error_shape(response)


@st.composite
def tampered(draw: st.DrawFn, url: str, project: int) -> httpx.Request:
    """A correctly signed request with one signed thing changed after signing."""
    body = urlencode({"ProjectId": project}).encode()
    request = v3_request(url, "ListTasks", body=body)
    headers = dict(request.headers)
    part = draw(st.sampled_from(["signature", "date", "nonce", "action", "body", "query", "sha"]))
    if part == "signature":
        auth = headers["authorization"]
        flip = "0" if auth[-1] != "0" else "1"
        headers["authorization"] = auth[:-1] + flip
    elif part == "date":
        skew = draw(
            st.sampled_from([timedelta(seconds=1), timedelta(minutes=16), timedelta(days=-1)])
        )
        stamp = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ") + skew
        headers["x-acs-date"] = draw(
            st.sampled_from([stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "yesterday", ""])
        )
    elif part == "nonce":
        headers["x-acs-signature-nonce"] = uuid.uuid4().hex
    elif part == "action":
        headers["x-acs-action"] = draw(st.sampled_from(["GetTask", "RerunTaskInstances", "X"]))
    elif part == "sha":
        headers["x-acs-content-sha256"] = "0" * 64
    target = str(request.url)
    if part == "body":
        body = body + draw(st.sampled_from([b"&Name=ok", b"0", b"&ProjectId=2"]))
        headers.pop("content-length", None)
    if part == "query":
        target += "?" + urlencode({"Name": draw(st.text(min_size=1, max_size=5))})
    return httpx.Request("POST", target, headers=headers, content=body)


@settings(max_examples=40, **BOUNDED)
@given(data=st.data())
def test_a_request_changed_after_signing_is_refused_with_the_error_shape(
    server,  # noqa: ANN001
    scene,  # noqa: ANN001
    data: st.DataObject,
) -> None:
    request = data.draw(tampered(server.url, scene.workspace_id))
    body = assert_error_shape(send(request))
    assert body["Code"] != "OperationDenied"


HUGE = str(2**63)  # one past SQLite's largest integer


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("GetTaskInstance", {"Id": HUGE}),
        ("GetTaskInstanceLog", {"Id": HUGE, "RunNumber": "1"}),
        ("RerunTaskInstances", {"Ids": f"[{HUGE}, 1]"}),
        ("GetWorkflowInstance", {"Id": HUGE}),
        (
            "CreateWorkflowInstances",
            {
                "Name": "far",
                "Type": "SupplementData",
                "WorkflowId": "1",
                "Periods": json.dumps(
                    {"BizDates": [{"StartBizDate": "9999-12-30", "EndBizDate": "9999-12-31"}]}
                ),
                "DefaultRunProperties": json.dumps(
                    {"Mode": "General", "RootTaskIds": [2], "Parallelism": 1}
                ),
            },
        ),
    ],
)
def test_requests_that_used_to_answer_500(server, scene, action: str, params: dict) -> None:  # noqa: ANN001
    """Ids past SQLite's integers and business dates past year 9998 reached the store and
    the planner as they were; the backend now refuses them, and the emulator says so."""
    params = {"ProjectId": str(scene.workspace_id), **params}
    response = send(v3_request(server.url, action, body=urlencode(params).encode()))
    body = response.json()
    if response.status_code != 200:
        assert_error_shape(response)
    elif "OperationId" in body:  # created asynchronously: the failure is in its result
        query = urlencode({"OperationId": body["OperationId"]}).encode()
        result = send(v3_request(server.url, "GetCreateWorkflowInstancesResult", body=query))
        assert result.json()["Result"]["Status"] == "CreateFailure", result.json()
    else:  # a batch answers 200 with a failure per id
        assert any(not i["Success"] for i in body["SuccessInfo"].values()), body


@pytest.mark.parametrize(
    ("method", "version", "action", "params"),
    [
        pytest.param("PUT", "2024-05-18", "ListTasks", {}, id="PUT"),
        pytest.param("DELETE", "2024-05-18", "ListTasks", {}, id="DELETE"),
        pytest.param(
            "POST", "2024-05-18", "RerunTaskInstances", {"Ids": '["²"]'}, id="Ids unicode digit"
        ),
        pytest.param(
            "POST",
            "2024-05-18",
            "ListTaskInstances",
            {"ProjectId": "1", "Bizdate": "99999999999999999999"},
            id="Bizdate out of range",
        ),
        pytest.param(
            "POST",
            "2024-05-18",
            "CreateWorkflowInstances",
            {
                "Name": "x",
                "ProjectId": "1",
                "Type": "SupplementData",
                "WorkflowId": "1",
                "Periods": '{"BizDates": [{"StartBizDate": "2025-10-01", "EndBizDate": "2025-10-01"}]}',  # noqa: E501
                "DefaultRunProperties": '{"Mode": "General", "RootTaskIds": ["²"], "Parallelism": 1}',  # noqa: E501
            },
            id="RootTaskIds unicode digit",
        ),
    ],
)
def test_known_emulator_crashes(server, method, version, action, params) -> None:  # noqa: ANN001
    """Requests that once answered 500 or http.server's HTML page: each is a 4xx in the
    gateway's error shape."""
    signed = v3_request(server.url, action, version=version, body=urlencode(params).encode())
    request = httpx.Request(method, signed.url, headers=signed.headers, content=signed.content)
    assert_error_shape(send(request))


# -- shell metacharacters reach shell nodes as data -------------------------------------------

# A careless script: unquoted expansions everywhere, and still nothing may run.
CARELESS = r"""for value in "$@"; do printf 'arg:[%s]\n' "$value"; done
for name in p0 p1 p2 p3 p4 p5; do printf 'env:%s=[%s]\n' "$name" "${!name}"; done
echo unquoted: $p0 $p1 $p2 $p3 $p4 $p5
"""
# Values the loader accepts (no spaces, no '='): each would create a file if it ran.
LOADER_VALID = {
    "p0": "$(>pwned_subst)",
    "p1": "`>pwned_tick`",
    "p2": ";>pwned_semi;",
    "p3": "&>pwned_amp&|>pwned_pipe",
    "p4": "'\";>pwned_quote;\"'",
    "p5": "<(>pwned_procsubst)*?[a]~$HOME\\",
}
# Values only a hand-made workspace can carry (the loader refuses spaces and newlines).
ANYTHING = [
    "; touch pwned_semicolon",
    "$(touch pwned_subst2)",
    "`touch pwned_tick2`",
    "'\"; touch pwned_quotes; echo \"'",
    "x\ntouch pwned_newline",
    "a\r\nb\tc",
    "$((1+1)) $HOME $'\\x41'",
    "-e",
    "--help",
    "*",
    "é中 \\",
]


def hostile_node(params: dict[str, str]) -> dict:
    return {
        "name": "hostile",
        "type": "shell",
        "trigger": {"cron": "00 30 00 * * ?"},
        "parameters": params,
        "code": CARELESS,
    }


def run_hostile(root: Path, params: dict[str, str], *, through_loader: bool) -> str:
    """Deploy a shell node carrying ``params``, let the real engine run it, return its log."""
    folder = root / "ws"
    folder.mkdir(parents=True)
    node = hostile_node(params if through_loader else {})
    text = yaml.safe_dump({"workspace": {"name": "ws", "timezone": "UTC"}, "nodes": [node]})
    (folder / "workspace.yaml").write_text(text, encoding="utf-8")
    workspace = load_workspace(folder)
    if not through_loader:  # as a future source (an API, a form) might hand them over
        [root_node, loaded] = workspace.nodes
        parameters = {**params, **loaded.parameters}
        workspace = replace(workspace, nodes=(root_node, replace(loaded, parameters=parameters)))
    db = open_store(f"sqlite:///{root / 'state' / 'state.db'}")
    report = deploy(db, workspace, folder, data_dir=root / "data", now=DEPLOYED_AT, user="t")
    world = World(db, report.workspace_id, ManualClock(START))
    try:
        world.start()
        world.go(at(1))
        assert world.attempts("hostile"), "the node ran"
        return world.log("hostile")
    finally:
        world.close()
        db.dispose()


def assert_verbatim_and_harmless(root: Path, log: str, params: dict[str, str]) -> None:
    for name, value in params.items():
        assert f"arg:[{value}]" in log, (value, log)
        assert f"env:{name}=[{value}]" in log, (name, value, log)
    assert "finished: exit code 0" in log, log
    for folder in (root, Path.cwd()):
        assert not list(folder.rglob("pwned*")), f"a parameter value ran as code in {folder}"


def test_loader_valid_metacharacters_reach_a_shell_node_verbatim(tmp_path: Path) -> None:
    log = run_hostile(tmp_path, LOADER_VALID, through_loader=True)
    assert_verbatim_and_harmless(tmp_path, log, LOADER_VALID)


# Scheduling-parameter forms are rendered before a node runs, so they are not data.
RENDERED = re.compile(r"\$[{\[]|\$(bizdate|cyctime|gmtdate|bizmonth|jobid|nodeid|taskid)\b")
HOSTILE_VALUES = st.one_of(
    st.sampled_from(ANYTHING + list(LOADER_VALID.values())),
    st.text(
        alphabet=string.printable.replace("\x0b", "").replace("\x0c", "") + "é中",
        min_size=1,
        max_size=20,
    ).filter(lambda value: not RENDERED.search(value)),
)


@settings(max_examples=6, **BOUNDED)
@given(values=st.lists(HOSTILE_VALUES, min_size=1, max_size=4))
def test_any_parameter_value_reaches_a_shell_node_run_by_the_engine_verbatim(
    tmp_path: Path, values: list[str]
) -> None:
    params = {f"p{i}": value for i, value in enumerate(values)}
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        root = Path(scratch)
        log = run_hostile(root, params, through_loader=False)
        assert_verbatim_and_harmless(root, log, params)


@pytest.mark.parametrize("name", ["BASH_ENV", "ENV", "SHELLOPTS", "PS4", "LD_PRELOAD"])
def test_parameter_names_an_interpreter_runs_at_startup_are_refused(
    tmp_path: Path, name: str
) -> None:
    """bash expands a BASH_ENV value, ``$(...)`` included, before the script runs: as a
    parameter name it would turn its value into code, so the loader refuses it, located."""
    folder = tmp_path / "ws"
    folder.mkdir()
    text = textwrap.dedent(
        f"""\
        workspace: {{name: ws}}
        nodes:
          - name: n
            type: shell
            trigger: {{cron: "00 30 00 * * ?"}}
            parameters:
              {name}: "$(>pwned)"
            code: "true"
        """
    )
    (folder / "workspace.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(folder)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (7, f"nodes[0].parameters.{name}")
    assert "reserved" in problem.message
