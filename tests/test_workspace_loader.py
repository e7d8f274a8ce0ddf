"""The workspace format as a user meets it: what loads, and what ``validate`` says when it does not.

Expected line numbers are found in the YAML text each test writes, never taken from the
loader; the format itself is documented in docs/workspace-format.md.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opscenter.cli import main
from opscenter.domain.model import (
    Dependency,
    DependencyType,
    InstanceMode,
    NodeType,
    Recurrence,
    RerunMode,
    ResourceGroup,
    TriggerType,
    Workspace,
)
from opscenter.project.loader import load_workspace
from opscenter.project.problems import Problem, WorkspaceError

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo"

# A small valid workspace that the single-problem cases below break one line at a time.
MINI = textwrap.dedent(
    """\
    workspace:
      name: mini
      timezone: Asia/Shanghai

    resource_groups:
      - name: etl
        slots: 2

    nodes:
      - name: load
        type: sql
        resource_group: etl
        trigger: {cron: "00 30 00 * * ?"}
        code: "CREATE OR REPLACE TABLE t AS SELECT '${bizdate}' AS d"

      - name: report
        type: shell
        trigger: {cron: "00 00 01 * * ?"}
        depends: [load]
        code: echo done

    baselines:
      - name: morning
        priority: 3
        committed_time: "08:00"
        nodes: [report]
    """
)


# -- helpers ----------------------------------------------------------------------------


def write_workspace(folder: Path, text: str, files: dict[str, str] | None = None) -> Path:
    """A workspace folder holding ``text`` as workspace.yaml, plus code files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workspace.yaml").write_text(text, encoding="utf-8")
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def edit(text: str, old: str, new: str) -> str:
    """Replace a fragment that occurs exactly once, so each edit is unambiguous."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the ``occurrence``-th appearance of ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) >= occurrence, f"{fragment!r} is on {len(hits)} lines"
    return hits[occurrence - 1]


def column_of(text: str, fragment: str) -> int:
    """1-based column where ``fragment`` starts on the (first) line holding it."""
    line = text.splitlines()[line_of(text, fragment) - 1]
    return line.index(fragment) + 1


def node_index(text: str, name: str) -> int:
    """Position of the node called ``name`` in the nodes list of ``text``."""
    return [node["name"] for node in yaml.safe_load(text)["nodes"]].index(name)


def problems_in(folder: Path) -> list[Problem]:
    with pytest.raises(WorkspaceError) as caught:
        load_workspace(folder)
    return caught.value.problems


def single_problem(folder: Path) -> Problem:
    found = problems_in(folder)
    assert len(found) == 1, "expected one problem, got:\n" + "\n".join(map(str, found))
    return found[0]


def check(
    problem: Problem, folder: Path, line: int, field: str, *words: str, hint: str = ""
) -> None:
    """The problem names workspace.yaml, the line and field, and says what is wrong."""
    file = str(folder / "workspace.yaml")
    assert (problem.file, problem.line, problem.field) == (file, line, field), str(problem)
    for word in words:
        assert word in problem.message, str(problem)
    assert hint in problem.hint, str(problem)
    where = f"{file}:{line}:{problem.column}: "
    assert str(problem).startswith(f"{where}{field}: " if field else where)


def mini(tmp_path: Path, text: str = MINI, files: dict[str, str] | None = None) -> Path:
    return write_workspace(tmp_path / "ws", text, files)


def loaded(tmp_path: Path, text: str = MINI, files: dict[str, str] | None = None) -> Workspace:
    return load_workspace(mini(tmp_path, text, files))


def validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


# -- the bundled demo ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return load_workspace(DEMO)


def test_demo_is_workspace_shop_with_32_nodes_plus_its_root(demo: Workspace) -> None:
    assert demo.name == "shop"
    assert demo.timezone == "Asia/Shanghai"
    assert len(demo.nodes) == 32 + 1
    manual = [n for n in demo.nodes if n.trigger is TriggerType.MANUAL]
    assert [(n.name, n.workflow, n.cron) for n in manual] == [
        ("adhoc_export_orders", "adhoc_export_orders", "")
    ]
    root = next(n for n in demo.nodes if n.name == "shop_root")
    assert demo.root_name == "shop_root"
    assert root.type is NodeType.VIRTUAL
    assert root.depends == ()


def test_demo_baselines(demo: Workspace) -> None:
    baselines = {b.name: b for b in demo.baselines}
    assert set(baselines) == {"exec_dashboard", "finance_close"}
    exec_dashboard = baselines["exec_dashboard"]
    assert (exec_dashboard.owner, exec_dashboard.priority, exec_dashboard.type) == (
        "bob",
        8,
        "DAILY",
    )
    assert exec_dashboard.committed_times == ("09:00",)
    assert exec_dashboard.margin == 30
    assert exec_dashboard.nodes == ("ads_exec_dashboard",)
    assert baselines["finance_close"].committed_times == ("10:30",)


def test_demo_resource_groups_include_the_default_group(demo: Workspace) -> None:
    assert set(demo.resource_groups) == {
        ResourceGroup("ingest", 2),
        ResourceGroup("warehouse", 3),
        ResourceGroup("default", 4),
    }


def test_every_demo_node_without_a_same_cycle_upstream_hangs_off_shop_root(
    demo: Workspace,
) -> None:
    nodes = {n.name: n for n in demo.nodes}
    # ods_start declares no depends: the root is its only upstream
    assert nodes["ods_start"].upstreams == ("shop_root",)
    # nodes that declare upstreams do not get the root as well
    assert "shop_root" not in nodes["sales_raw"].upstreams
    declared = yaml.safe_load((DEMO / "workspace.yaml").read_text())["nodes"]
    for entry in declared:
        plain = [d for d in entry.get("depends", []) if isinstance(d, str)]
        manual = entry["trigger"].get("type") == "Manual"  # hangs off nothing
        expected = tuple(plain) if plain or manual else ("shop_root",)
        assert nodes[entry["name"]].upstreams == expected, entry["name"]


def test_demo_nodes_get_the_implicit_bizdate_parameter(demo: Workspace) -> None:
    for node in demo.nodes:
        if node.name != "shop_root":
            assert node.parameters["bizdate"] == "$bizdate", node.name
    nodes = {n.name: n for n in demo.nodes}
    assert nodes["ods_orders_hourly"].parameters == {"block": "$[hh24]", "bizdate": "$bizdate"}
    assert nodes["dq_sales_volume"].parameters["week_ago"] == "${yyyymmdd-7}"


def test_demo_code_is_read_from_the_files_named_in_the_yaml(demo: Workspace) -> None:
    nodes = {n.name: n for n in demo.nodes}
    sales_raw = nodes["sales_raw"]
    assert sales_raw.code_file == "sql/sales_raw.sql"
    assert sales_raw.code == (DEMO / "sql" / "sales_raw.sql").read_text(encoding="utf-8")
    orders = nodes["ods_orders_hourly"]
    assert orders.type is NodeType.PYTHON
    assert orders.code == (DEMO / "scripts" / "gen_orders.py").read_text(encoding="utf-8")
    assert nodes["ods_start"].code == ""


def test_demo_node_settings(demo: Workspace) -> None:
    nodes = {n.name: n for n in demo.nodes}
    orders = nodes["ods_orders_hourly"]
    assert orders.cron == "00 05 00-07/1 * * ?"
    assert (orders.priority, orders.resource_group) == (3, "ingest")
    assert (orders.rerun_times, orders.rerun_interval) == (3, 60)
    assert nodes["dws_user_activity"].timeout == 180
    assert nodes["dq_sales_volume"].rerun_mode is RerunMode.FAILURE_ALLOWED
    assert nodes["dq_sales_volume"].type is NodeType.QUALITY
    assert nodes["dws_customer_ltv"].depends == (
        Dependency(DependencyType.NORMAL, "dws_start"),
        Dependency(DependencyType.NORMAL, "dwd_orders_enriched"),
        Dependency(DependencyType.CROSS_CYCLE_SELF),
    )


def test_validate_the_demo_prints_a_one_line_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = validate(DEMO, capsys)
    assert status == 0
    assert err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert "shop" in lines[0]
    assert "32 nodes" in lines[0]


def test_validate_accepts_the_workspace_yaml_itself(capsys: pytest.CaptureFixture[str]) -> None:
    status, _out, _err = validate(DEMO / "workspace.yaml", capsys)
    assert status == 0


# -- six problems at once ------------------------------------------------------------------


def test_a_broken_demo_reports_all_six_problems_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    text = (folder / "workspace.yaml").read_text(encoding="utf-8")
    # 1. a typo'd key on ods_orders_hourly
    text = edit(
        text,
        '    rerun_times: 3\n    rerun_interval: 1m\n    parameters: {block: "$[hh24]"}\n'
        "    depends: [ods_start]\n",
        '    rerun_time: 3\n    rerun_interval: 1m\n    parameters: {block: "$[hh24]"}\n'
        "    depends: [ods_start]\n",
    )
    # 2. a cycle: dwd_start now waits for sales_raw, which waits for dwd_start
    text = edit(
        text,
        "    description: start of the detail layer\n"
        '    trigger: {cron: "00 00 00 * * ?"}\n'
        "    depends: [ods_start]\n",
        "    description: start of the detail layer\n"
        '    trigger: {cron: "00 00 00 * * ?"}\n'
        "    depends: [ods_start, sales_raw]\n",
    )
    # 3. a bad cron: there is no hour 24
    text = edit(text, '{cron: "00 20 00 * * ?"}', '{cron: "00 20 24 * * ?"}')
    # 4. an unknown upstream, one letter off
    text = edit(
        text,
        "depends: [dwd_start, ods_payments_hourly]",
        "depends: [dwd_start, ods_payment_hourly]",
    )
    # 5. a bad parameter expression: ${...} takes whole days only
    text = edit(
        text,
        '    rerun_mode: FailureAllowed\n    parameters: {week_ago: "${yyyymmdd-7}"}\n',
        '    rerun_mode: FailureAllowed\n    parameters: {week_ago: "${yyyymmdd-1/24}"}\n',
    )
    (folder / "workspace.yaml").write_text(text, encoding="utf-8")
    # 6. a script file that is not there
    (folder / "scripts" / "publish_dashboard.sh").unlink()

    found = problems_in(folder)
    assert len(found) == 6, "\n".join(map(str, found))
    by_field = {p.field: p for p in found}

    typo = by_field[f"nodes[{node_index(text, 'ods_orders_hourly')}].rerun_time"]
    check(typo, folder, line_of(text, "rerun_time: 3"), typo.field, "unknown key 'rerun_time'")
    assert "did you mean 'rerun_times'?" in typo.hint

    cycles = [p for p in found if "cycle" in p.message]
    assert len(cycles) == 1
    cycle = cycles[0]
    assert "dwd_start" in cycle.message and "sales_raw" in cycle.message
    # a cycle has no single wrong edge: it is reported at one of its two dependencies
    edges = {
        (f"nodes[{node_index(text, 'dwd_start')}].depends[1]"): line_of(
            text, "depends: [ods_start, sales_raw]"
        ),
        (f"nodes[{node_index(text, 'sales_raw')}].depends[0]"): line_of(
            text, "depends: [dwd_start, ods_orders_hourly]"
        ),
    }
    assert cycle.field in edges, str(cycle)
    check(cycle, folder, edges[cycle.field], cycle.field, "dependency cycle")

    cron_field = f"nodes[{node_index(text, 'ods_users_snapshot')}].trigger.cron"
    check(by_field[cron_field], folder, line_of(text, "00 20 24 * * ?"), cron_field, "hour")

    upstream_field = f"nodes[{node_index(text, 'dwd_payments')}].depends[1]"
    check(
        by_field[upstream_field],
        folder,
        line_of(text, "ods_payment_hourly"),
        upstream_field,
        "'ods_payment_hourly'",
        hint="did you mean 'ods_payments_hourly'?",
    )

    param_field = f"nodes[{node_index(text, 'dq_sales_volume')}].parameters.week_ago"
    check(
        by_field[param_field],
        folder,
        line_of(text, "${yyyymmdd-1/24}"),
        param_field,
        "${yyyymmdd-1/24}",
    )

    file_field = f"nodes[{node_index(text, 'ads_dashboard_publish')}].file"
    check(
        by_field[file_field],
        folder,
        line_of(text, "file: scripts/publish_dashboard.sh"),
        file_field,
        "scripts/publish_dashboard.sh",
    )

    status, out, err = validate(folder, capsys)
    assert status != 0
    assert out == ""
    for problem in found:
        assert f"{problem.file}:{problem.line}:" in err
        assert str(problem) in err


# -- one problem at a time ------------------------------------------------------------------


def test_the_mini_workspace_is_valid(tmp_path: Path) -> None:
    workspace = loaded(tmp_path)
    assert [n.name for n in workspace.nodes] == ["mini_root", "load", "report"]


@dataclass(frozen=True)
class Mistake:
    """One edit to MINI (``old`` becomes ``new``) and the one problem a user is then shown."""

    old: str
    new: str
    at: str  # a fragment of the line the problem names in workspace.yaml
    field: str
    words: tuple[str, ...]  # each in the message
    hint: tuple[str, ...] = ()  # each in the hint
    occurrence: int = 1  # which line holding ``at``, when several do
    files: dict[str, str] | None = None  # code files written beside workspace.yaml
    column: bool = False  # the problem also names the column where ``at`` starts
    hint_names_line_of: str = ""  # the hint says "line N" of the line holding this


ONE_MISTAKE = [
    pytest.param(
        Mistake(
            'trigger: {cron: "00 30 00 * * ?"}',
            'trigger: {type: Manual, cron: "00 30 00 * * ?"}',
            at="type: Manual",
            field="nodes[0].trigger.cron",
            words=("a Manual trigger has no cron",),
            hint=("remove it",),
        ),
        id="manual trigger with a cron",
    ),
    pytest.param(
        Mistake(
            'trigger: {cron: "00 30 00 * * ?"}',
            "trigger: {type: Manual}",
            at="depends: [load]",
            field="nodes[1].depends[0]",
            words=("auto triggered node 'report'", "manually triggered 'load'", "never run"),
        ),
        id="scheduled node on a manual one",
    ),
    pytest.param(
        Mistake(
            'trigger: {cron: "00 00 01 * * ?"}',
            "trigger: {type: Manual}",
            at="depends: [load]",
            field="nodes[1].depends[0]",
            words=("manually triggered node 'report'", "on auto triggered 'load'"),
            hint=("manual nodes only",),
        ),
        id="manual node on a scheduled one",
    ),
    pytest.param(
        Mistake(
            "    code: echo done\n",
            "    code: echo done\n    workflow: exports\n",
            at="workflow: exports",
            field="nodes[1].workflow",
            words=("only a manually triggered node",),
            hint=("type: Manual",),
        ),
        id="workflow on a scheduled node",
    ),
    pytest.param(
        Mistake(
            "baselines:",
            "baseline:",
            at="baseline:",
            field="baseline",
            words=("unknown key 'baseline'",),
            hint=("did you mean 'baselines'?",),
        ),
        id="unknown top-level key",
    ),
    pytest.param(
        Mistake(
            "\nbaselines:",
            "\n  - name: load\n    type: virtual\n"
            '    trigger: {cron: "00 00 00 * * ?"}\n\nbaselines:',
            at="- name: load",
            occurrence=2,
            field="nodes[2]",
            words=("'load'", "twice"),
            hint_names_line_of="- name: load",
        ),
        id="duplicate node name",
    ),
    pytest.param(
        Mistake(
            '    trigger: {cron: "00 00 01 * * ?"}\n',
            "",
            at="- name: report",
            field="nodes[1]",
            words=("missing", "'trigger'"),
        ),
        id="missing trigger",
    ),
    pytest.param(
        Mistake(
            "    resource_group: etl\n",
            "    resource_group: etl\n    priority: high\n",
            at="priority: high",
            field="nodes[0].priority",
            words=("'high'",),
        ),
        id="priority must be a number",
    ),
    pytest.param(
        Mistake(
            "    resource_group: etl\n",
            "    resource_group: etl\n    priority: 9\n",
            at="priority: 9",
            field="nodes[0].priority",
            words=("9",),
            hint=("1..8",),
        ),
        id="priority range",
    ),
    # reported once: the nodes in group etl are not also told that etl is undefined
    pytest.param(
        Mistake(
            "slots: 2",
            "slots: 0",
            at="slots: 0",
            field="resource_groups[0].slots",
            words=("0",),
            hint=("1..",),
        ),
        id="a resource group needs at least one slot",
    ),
    pytest.param(
        Mistake(
            "resource_group: etl",
            "resource_group: elt",
            at="resource_group: elt",
            field="nodes[0].resource_group",
            words=("'elt'", "not defined"),
            hint=("did you mean 'etl'?",),
        ),
        id="unknown resource group",
    ),
    pytest.param(
        Mistake(
            "    depends: [load]\n",
            "    depends: [load]\n    recurrence: Paused\n",
            at="recurrence: Paused",
            field="nodes[1].recurrence",
            words=("'Paused'",),
            hint=("did you mean 'Pause'?",),
        ),
        id="a bad enum value suggests the right one",
    ),
    pytest.param(
        Mistake(
            "AS SELECT '${bizdate}' AS d",
            "AS SELECT '${bizdate}' AS d, '${region}' AS r",
            at="${region}",
            field="nodes[0].code",
            words=("${region}",),
            hint=("parameters",),
        ),
        id="sql may only use declared parameters",
    ),
    pytest.param(
        Mistake(
            "AS SELECT '${bizdate}' AS d",
            "AS SELECT '${bizdate}' AS d, $[hh24-0.5] AS h",
            at="$[hh24-0.5]",
            column=True,
            field="nodes[0].code",
            words=("$[hh24-0.5]", "decimals"),
            hint=("$[hh24-1/24]",),
        ),
        id="sql code outside the grammar is refused at the expression",
    ),
    pytest.param(
        Mistake(
            "    resource_group: etl\n",
            '    resource_group: etl\n    parameters: {since: "$[yyyy-mm-dd] 00:00:00"}\n',
            at="since:",
            field="nodes[0].parameters.since",
            words=("space",),
        ),
        id="a parameter value may not contain a space",
    ),
    pytest.param(
        Mistake(
            "    type: shell\n",
            "    type: virtual\n",
            at="code: echo done",
            field="nodes[1].code",
            words=("virtual",),
        ),
        id="a virtual node runs no code",
    ),
    pytest.param(
        Mistake(
            "    code: echo done\n",
            "    code: echo done\n    file: scripts/r.sh\n",
            files={"scripts/r.sh": "echo done\n"},
            at="file: scripts/r.sh",
            field="nodes[1].file",
            words=("'code'",),
        ),
        id="code and file together",
    ),
    pytest.param(
        Mistake(
            "    code: echo done\n",
            "",
            at="- name: report",
            field="nodes[1].name",
            words=("'code' or 'file'",),
        ),
        id="a shell node needs code",
    ),
    pytest.param(
        Mistake(
            'committed_time: "08:00"',
            'committed_time: "48:00"',
            at="48:00",
            field="baselines[0].committed_time",
            words=("'48:00'",),
            hint=("47",),
        ),
        id="committed time hour 48 is invalid",
    ),
    pytest.param(
        Mistake(
            "priority: 3",
            "priority: 2",
            at="priority: 2",
            field="baselines[0].priority",
            words=("2",),
            hint=("1, 3, 5, 7, 8",),
        ),
        id="baseline priority 2 is not allowed",
    ),
    pytest.param(
        Mistake(
            "nodes: [report]",
            "nodes: [reprot]",
            at="nodes: [reprot]",
            field="baselines[0].nodes[0]",
            words=("'reprot'",),
            hint=("did you mean 'report'?",),
        ),
        id="baseline node must exist",
    ),
    pytest.param(
        Mistake(
            "depends: [load]",
            "depends: [load, {type: CrossCycleDependsOnOtherNode}]",
            at="CrossCycleDependsOnOtherNode",
            field="nodes[1].depends[1]",
            words=("CrossCycleDependsOnOtherNode",),
            hint=("node:",),
        ),
        id="cross-cycle dependency on another node must name it",
    ),
    pytest.param(
        Mistake(
            "    code: echo done\n",
            "    rerun_interval: 31m\n    code: echo done\n",
            at="31m",
            field="nodes[1].rerun_interval",
            words=("30 minutes",),
        ),
        id="rerun interval is at most 30 minutes",
    ),
    pytest.param(
        Mistake(
            'trigger: {cron: "00 00 01 * * ?"}',
            'trigger: {cron: "00 00 01 * * ?", timezone: UTC}',
            at="timezone: UTC",
            field="nodes[1].trigger.timezone",
            words=("time zone",),
            hint=("workspace.timezone",),
        ),
        id="per-node time zone must be the workspace zone",
    ),
    pytest.param(
        Mistake(
            "timezone: Asia/Shanghai",
            "timezone: Asia/Shangai",
            at="Asia/Shangai",
            field="workspace.timezone",
            words=("'Asia/Shangai'",),
            hint=("IANA",),
        ),
        id="unknown time zone",
    ),
    # load's type is wrong, yet report's "depends: [load]" and the baseline are fine
    pytest.param(
        Mistake(
            "    type: sql\n",
            "    type: SQL\n",
            at="type: SQL",
            field="nodes[0].type",
            words=("'SQL'",),
        ),
        id="a node with a problem is still known to its downstream",
    ),
]


@pytest.mark.parametrize("mistake", ONE_MISTAKE)
def test_one_mistake_is_one_problem_located_and_explained(tmp_path: Path, mistake: Mistake) -> None:
    text = edit(MINI, mistake.old, mistake.new)
    problem = single_problem(folder := mini(tmp_path, text, mistake.files))
    line = line_of(text, mistake.at, occurrence=mistake.occurrence)
    check(problem, folder, line, mistake.field, *mistake.words)
    for words in mistake.hint:
        assert words in problem.hint, str(problem)
    if mistake.column:
        assert problem.column == column_of(text, mistake.at), str(problem)
    if mistake.hint_names_line_of:
        assert f"line {line_of(text, mistake.hint_names_line_of)}" in problem.hint, str(problem)


def test_the_default_resource_group_always_exists(tmp_path: Path) -> None:
    text = edit(MINI, "resource_group: etl", "resource_group: default")
    workspace = loaded(tmp_path, text)
    assert ResourceGroup("default", 4) in workspace.resource_groups
    assert workspace.nodes[1].resource_group == "default"


def test_sql_with_declared_parameters_and_date_forms_loads(tmp_path: Path) -> None:
    code = "SELECT '${region}', '${yyyymmdd}', '${yyyy-mm-dd-1}', '$[hh24]', '$bizdate'"
    text = edit(
        MINI,
        "    code: \"CREATE OR REPLACE TABLE t AS SELECT '${bizdate}' AS d\"\n",
        f'    parameters: {{region: cn}}\n    code: "{code}"\n',
    )
    load = loaded(tmp_path, text).nodes[1]
    assert load.parameters == {"region": "cn", "bizdate": "$bizdate"}
    assert load.code == code


def test_sql_in_a_file_is_checked_too(tmp_path: Path) -> None:
    text = edit(
        MINI,
        "    code: \"CREATE OR REPLACE TABLE t AS SELECT '${bizdate}' AS d\"\n",
        "    file: sql/load.sql\n",
    )
    sql = "SELECT '${bizdate}',\n       '${region}'\n"
    problem = single_problem(folder := mini(tmp_path, text, {"sql/load.sql": sql}))
    # Located in the code file itself, where an editor can jump to it.
    assert (problem.file, problem.line, problem.column) == (str(folder / "sql/load.sql"), 2, 9)
    assert problem.field == "nodes[0].file"
    assert "${region}" in problem.message and "declare it under parameters" in problem.hint


def test_committed_time_33_30_is_the_next_day(tmp_path: Path) -> None:
    # written without quotes on purpose: the text is taken as written, not as a YAML number
    text = edit(MINI, 'committed_time: "08:00"', "committed_time: 33:30")
    assert loaded(tmp_path, text).baselines[0].committed_times == ("33:30",)


def test_hourly_baseline_has_a_committed_time_per_cycle(tmp_path: Path) -> None:
    text = edit(
        MINI,
        '    committed_time: "08:00"\n',
        '    type: HOURLY\n    committed_time: ["01:00", "02:00", "03:00"]\n',
    )
    baseline = loaded(tmp_path, text).baselines[0]
    assert (baseline.type, baseline.committed_times) == ("HOURLY", ("01:00", "02:00", "03:00"))


def test_baseline_defaults(tmp_path: Path) -> None:
    baseline = loaded(tmp_path).baselines[0]
    assert (baseline.owner, baseline.type, baseline.margin) == ("", "DAILY", 30)


def test_dependency_forms(tmp_path: Path) -> None:
    text = edit(
        MINI,
        "depends: [load]",
        "depends:\n"
        "      - load\n"
        "      - {type: CrossCycleDependsOnSelf}\n"
        "      - {type: CrossCycleDependsOnOtherNode, node: load}\n"
        "      - {type: CrossCycleDependsOnChildren}",
    )
    report = loaded(tmp_path, text).nodes[2]
    assert report.depends == (
        Dependency(DependencyType.NORMAL, "load"),
        Dependency(DependencyType.CROSS_CYCLE_SELF),
        Dependency(DependencyType.CROSS_CYCLE_OTHER, "load"),
        Dependency(DependencyType.CROSS_CYCLE_CHILDREN),
    )


def test_a_node_with_only_cross_cycle_dependencies_hangs_off_the_root(tmp_path: Path) -> None:
    text = edit(MINI, "depends: [load]", "depends: [{type: CrossCycleDependsOnSelf}]")
    report = loaded(tmp_path, text).nodes[2]
    assert report.upstreams == ("mini_root",)
    assert Dependency(DependencyType.CROSS_CYCLE_SELF) in report.depends


def test_node_defaults(tmp_path: Path) -> None:
    report = loaded(tmp_path).nodes[2]
    assert report.priority == 1
    assert report.resource_group == "default"
    assert report.recurrence is Recurrence.NORMAL
    assert report.instance_mode is InstanceMode.T_PLUS_1
    assert report.rerun_mode is RerunMode.ALLOWED
    assert (report.rerun_times, report.rerun_interval, report.timeout) == (0, 120, None)
    assert (report.start_date, report.end_date) == (None, None)
    assert report.parameters == {"bizdate": "$bizdate"}


@pytest.mark.parametrize(("written", "seconds"), [("45", 45), ("90s", 90), ("2m", 120)])
def test_rerun_interval_forms(tmp_path: Path, written: str, seconds: int) -> None:
    text = edit(
        MINI, "    code: echo done\n", f"    rerun_interval: {written}\n    code: echo done\n"
    )
    assert loaded(tmp_path, text).nodes[2].rerun_interval == seconds


def test_per_node_time_zone_equal_to_the_workspace_zone_is_accepted(tmp_path: Path) -> None:
    text = edit(
        MINI,
        'trigger: {cron: "00 00 01 * * ?"}',
        'trigger: {cron: "00 00 01 * * ?", timezone: Asia/Shanghai}',
    )
    assert loaded(tmp_path, text).timezone == "Asia/Shanghai"


def test_effective_period(tmp_path: Path) -> None:
    text = edit(
        MINI,
        'trigger: {cron: "00 00 01 * * ?"}',
        "trigger:\n"
        '      cron: "00 00 01 * * ?"\n'
        "      start_time: 2025-01-01\n"
        '      end_time: "2025-12-31 00:00:00"',
    )
    report = loaded(tmp_path, text).nodes[2]
    assert (str(report.start_date), str(report.end_date)) == ("2025-01-01", "2025-12-31")


def test_invalid_yaml_is_located_in_pyyamls_words_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit(MINI, "    type: shell\n", "    type: shell\n    description: ratio: high\n")
    problem = single_problem(folder := mini(tmp_path, text))
    check(
        problem,
        folder,
        line_of(text, "description: ratio: high"),
        "",
        "not valid YAML: mapping values are not allowed here",
        "nothing else in the file can be checked until it parses",
        hint="quote a value that contains ': '",
    )
    assert problem.column == column_of(text, ": high") and "indent with spaces" in problem.hint
    status, out, err = validate(folder, capsys)
    assert (status, out, err) == (1, "", f"1 problem in the workspace\n{problem}\n")


@pytest.mark.parametrize(
    ("old", "new", "words", "where"),
    [
        pytest.param(
            "    code: echo done\n",
            "    code: echo done\n\tdescription: tabbed\n",
            "found character '\\t' that cannot start any token",
            "\tdescription",
            id="a tab",
        ),
        pytest.param(
            "    code: echo done\n",
            "    code: echo done\n    description: *bold* report\n",
            "but found '*' (while scanning an alias at line {line}, column 18)",
            "* report",
            id="a value starting with *",
        ),
        pytest.param(
            "    code: echo done\n",
            "    code: echo done\n    description: `report`\n",
            "found character '`' that cannot start any token",
            "`report`",
            id="a backtick",
        ),
        pytest.param(
            '    committed_time: "08:00"\n',
            '    committed_time: "08:00\n',
            "found unexpected end of stream (while scanning a quoted scalar at line {line}, "
            "column 21)",
            "",
            id="an unclosed quote",
        ),
    ],
)
def test_yaml_syntax_errors_say_where_and_what_to_check(
    tmp_path: Path, old: str, new: str, words: str, where: str
) -> None:
    text = edit(MINI, old, new)
    problem = single_problem(folder := mini(tmp_path, text))
    line = line_of(text, new.splitlines()[-1])
    # an unclosed quote is noticed at the end of the file; the message says where it began
    at = (line, column_of(text, where)) if where else (len(text.splitlines()) + 1, 1)
    assert (problem.line, problem.column) == at, str(problem)
    check(problem, folder, at[0], "", words.format(line=line), "until it parses", hint="quote")


def test_empty_file(tmp_path: Path) -> None:
    problem = single_problem(folder := mini(tmp_path, ""))
    check(problem, folder, 1, "", "empty", hint="workspace:")


def test_a_file_of_comments_only_is_empty(tmp_path: Path) -> None:
    problem = single_problem(folder := mini(tmp_path, "# nothing yet\n"))
    check(problem, folder, 1, "", "empty")


def test_missing_workspace_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "empty_folder"
    folder.mkdir()
    problem = single_problem(folder)
    check(problem, folder, 1, "", "not found", hint="workspace.yaml")
    status, _out, err = validate(folder, capsys)
    assert status != 0
    assert str(folder / "workspace.yaml") in err


def test_a_path_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    problem = single_problem(missing)
    assert (problem.file, problem.line) == (str(missing), 1)
    assert "not found" in problem.message
    status, _out, err = validate(missing, capsys)
    assert status != 0
    assert f"{missing}:1:1: " in err


def test_parameter_expressions_outside_the_grammar_are_refused_where_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit(
        MINI,
        "    resource_group: etl\n",
        "    resource_group: etl\n"
        "    parameters:\n"
        "      week_ago: ${yyyymmdd-7d}\n"
        '      hours: "$[yyyymmdd-1/-24]_$[hh24-0.5]"\n'
        "      later: ${yyyymmdd+x}\n",
    )
    found = problems_in(folder := mini(tmp_path, text))
    expected = [
        ("week_ago", "${yyyymmdd-7d}", "'-7d' is not an offset: units are not written"),
        ("hours", "$[yyyymmdd-1/-24]", "'-1/-24' is not an offset"),
        ("hours", "$[hh24-0.5]", "'-0.5' is not an offset: decimals are not allowed"),
        ("later", "${yyyymmdd+x}", "'+x' is not an offset"),
    ]
    assert len(found) == len(expected), "\n".join(map(str, found))
    for problem, (name, expression, why) in zip(found, expected, strict=True):
        field = f"nodes[0].parameters.{name}"
        check(problem, folder, line_of(text, expression), field, expression, why)
        assert problem.column == column_of(text, expression), str(problem)
        forms = "${yyyymmdd-7}" if expression[1] == "{" else "$[hh24-1/24]"
        assert forms in problem.hint and "- : /" in problem.hint, str(problem)
    status, out, err = validate(folder, capsys)
    assert status == 1 and out == ""
    assert all(str(problem) in err for problem in found)


def test_every_bad_form_in_a_sql_file_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    text = edit(
        MINI,
        "    code: \"CREATE OR REPLACE TABLE t AS SELECT '${bizdate}' AS d\"\n",
        "    file: sql/load.sql\n",
    )
    sql = (
        "SELECT '${bizdate}'\nWHERE d > '${yyyymmdd-7d}'\n  AND r = '${region}' AND h = $[hh24+]\n"
    )
    found = problems_in(folder := mini(tmp_path, text, {"sql/load.sql": sql}))
    file = str(folder / "sql" / "load.sql")
    assert [(p.file, p.line, p.column, p.field) for p in found] == [
        (file, 2, column_of(sql, "${yyyymmdd-7d}"), "nodes[0].file"),
        (file, 3, column_of(sql, "${region}"), "nodes[0].file"),
        (file, 3, column_of(sql, "$[hh24+]"), "nodes[0].file"),
    ], "\n".join(map(str, found))
    assert [p.message.split(": ", 1)[0] for p in found] == [
        "invalid parameter expression ${yyyymmdd-7d}",
        "invalid parameter expression ${region}",
        "invalid parameter expression $[hh24+]",
    ]
    assert str(found[0]).startswith(f"{file}:2:12: nodes[0].file: invalid parameter expression")
    assert "'-7d' is not an offset" in found[0].message and "${yyyymmdd-7}" in found[0].hint
    assert "declare it under parameters" in found[1].hint


def test_workspace_parameters_and_storage_paths(tmp_path: Path) -> None:
    text = edit(
        MINI,
        "  timezone: Asia/Shanghai\n",
        "  timezone: Asia/Shanghai\n"
        "  warehouse: dw/shop.duckdb\n"
        "  landing: files\n"
        "  parameters: {env: prod}\n",
    )
    workspace = loaded(tmp_path, text)
    assert (workspace.warehouse, workspace.landing) == ("dw/shop.duckdb", "files")
    assert workspace.parameters == {"env": "prod"}
    defaults = loaded(tmp_path / "other")
    assert (defaults.warehouse, defaults.landing) == ("warehouse.duckdb", "landing")


def test_a_broken_header_does_not_hide_other_problems(tmp_path: Path) -> None:
    text = edit(MINI, "name: mini", "name: 1mini")
    text = edit(text, '{cron: "00 30 00 * * ?"}', '{cron: "00 30 00 * * 8"}')
    text = edit(text, "depends: [load]", "depends: [laod]")
    text = edit(text, "nodes: [report]", "nodes: [reprot]")
    found = problems_in(folder := mini(tmp_path, text))
    assert [(p.line, p.field) for p in found] == [
        (line_of(text, "name: 1mini"), "workspace.name"),
        (line_of(text, "00 30 00 * * 8"), "nodes[0].trigger.cron"),
        (line_of(text, "depends: [laod]"), "nodes[1].depends[0]"),
        (line_of(text, "nodes: [reprot]"), "baselines[0].nodes[0]"),
    ]
    check(found[1], folder, found[1].line, found[1].field, "day-of-week")
    check(found[2], folder, found[2].line, found[2].field, "'laod'", hint="'load'")


def test_the_upstreams_of_a_node_with_another_problem_are_checked_too(tmp_path: Path) -> None:
    text = edit(MINI, "    depends: [load]\n", "    recurrence: Paused\n    depends: [laod]\n")
    found = problems_in(folder := mini(tmp_path, text))
    assert [(p.line, p.field) for p in found] == [
        (line_of(text, "recurrence: Paused"), "nodes[1].recurrence"),
        (line_of(text, "depends: [laod]"), "nodes[1].depends[0]"),
    ]
    check(found[1], folder, found[1].line, found[1].field, "'laod'", hint="did you mean 'load'?")


def test_validate_prints_problems_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit(MINI, "slots: 2", "slots: many")
    folder = mini(tmp_path, text)
    status, out, err = validate(folder, capsys)
    assert status == 1
    assert out == ""
    assert f"{folder / 'workspace.yaml'}:{line_of(text, 'slots: many')}:" in err
    assert "resource_groups[0].slots" in err
