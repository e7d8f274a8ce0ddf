"""Load a workspace folder (workspace.yaml + scripts) into domain objects.

Validation reports every problem at once with file:line:column, field path
and a hint; nothing half-valid is returned. The format is documented in
docs/workspace-format.md.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from opscenter.domain import dag
from opscenter.domain.cron import CronError, parse_cron
from opscenter.domain.model import (
    Dependency,
    DependencyType,
    InstanceMode,
    Node,
    NodeType,
    Recurrence,
    RerunMode,
    ResourceGroup,
    TriggerType,
    Workspace,
    root_node_name,
)
from opscenter.domain.params import problems_in_code, problems_in_value
from opscenter.project.alert_rules import alert_rules
from opscenter.project.baselines import baseline_rules
from opscenter.project.problems import Problem, WorkspaceError, did_you_mean
from opscenter.project.reader import (
    MAX_NAME,
    MB,
    Field,
    FileRefused,
    Report,
    compose,
    read_text_file,
)

WORKSPACE_FILE = "workspace.yaml"
# A 10,000-node workspace is about 3 MB of YAML; past 16 MB it is no workspace a person
# wrote, and composing it would take minutes and gigabytes.
MAX_FILE = 16 * MB
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
DEFAULT_GROUP = ResourceGroup("default", 4)
DEFAULT_TIMEZONE = "Asia/Shanghai"
ROOT_CRON = "00 00 00 * * ?"
_TOP_KEYS = {"workspace", "resource_groups", "nodes", "baselines", "alerts"}
_WORKSPACE_KEYS = {"name", "timezone", "warehouse", "landing", "parameters"}
_NODE_KEYS = {
    "name",
    "type",
    "owner",
    "description",
    "priority",
    "resource_group",
    "trigger",
    "recurrence",
    "instance_mode",
    "rerun_mode",
    "rerun_times",
    "rerun_interval",
    "timeout",
    "parameters",
    "depends",
    "code",
    "file",
    "workflow",
}
_TRIGGER_KEYS = {"type", "cron", "start_time", "end_time", "timezone"}
_DURATION = re.compile(r"^(\d+)\s*([smh]?)$")
# Environment variables that make the node's interpreter run or load code before the script.
_STARTUP_VARIABLES = {"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND"}
_STARTUP_PREFIXES = ("LD_", "PYTHON", "BASH_FUNC_")


def workspace_file(path: str | Path) -> Path:
    """Accept the folder or the workspace.yaml inside it."""
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except OSError:  # a name too long, say: reading it then says so, located
        is_dir = False
    return path / WORKSPACE_FILE if is_dir else path


def load_workspace(path: str | Path) -> Workspace:
    """Load and validate; raises WorkspaceError listing every problem."""
    file = workspace_file(path)
    try:
        text = read_text_file(file, MAX_FILE)
    except FileRefused as exc:
        hint = f"a workspace is a folder with a {WORKSPACE_FILE}, or that file itself"
        raise WorkspaceError([Problem(str(file), 1, 1, "", str(exc), hint)]) from None
    except FileNotFoundError:
        raise WorkspaceError(
            [
                Problem(
                    str(file),
                    1,
                    1,
                    "",
                    "file not found",
                    f"a workspace is a folder with a {WORKSPACE_FILE}",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError([Problem(str(file), 1, 1, "", f"cannot read: {exc}")]) from None
    report = Report(str(file))
    root = compose(text, report)
    if report.problems:  # it does not parse
        raise WorkspaceError(report.problems)
    if root is None:
        raise WorkspaceError(
            [Problem(str(file), 1, 1, "", "the file is empty", "start with a 'workspace:' section")]
        )
    workspace = _Loader(file.parent, report).workspace(Field(root, "", report))
    if report.problems or workspace is None:
        raise WorkspaceError(report.problems)
    return workspace


class _Loader:
    def __init__(self, folder: Path, report: Report) -> None:
        self.folder = folder
        self.report = report
        self.timezone = DEFAULT_TIMEZONE
        # Names declared in the file, even by entries with other problems: references to
        # them are not reported again as unknown.
        self.node_names: set[str] = set()
        self.group_names: set[str] = set()
        # Upstreams and resource group of nodes not built because of another problem,
        # still checked against the workspace so that all problems show at once.
        self.baseline_names: set[str] = set()
        self.unbuilt: list[tuple[tuple[Dependency, ...], str | None, Field]] = []

    def workspace(self, top: Field) -> Workspace | None:
        fields = top.mapping(_TOP_KEYS, required={"workspace", "nodes"})
        if fields is None:
            return None
        header = self.header(fields["workspace"]) if "workspace" in fields else None
        groups = self.resource_groups(fields.get("resource_groups"))
        nodes_field = fields.get("nodes")
        located = self.nodes(nodes_field) if nodes_field else []
        name, params, warehouse, landing = header or ("", {}, "", "")
        nodes = self.check_graph(located, name, {g.name for g in groups} | self.group_names)
        names = {n.name for n in nodes} | self.node_names
        baselines = baseline_rules(fields.get("baselines"), names, self.baseline_names)
        baseline_names = {b.name for b in baselines} | self.baseline_names
        alerts = alert_rules(fields.get("alerts"), names, baseline_names)
        if header is None:
            return None
        return Workspace(
            name=name,
            timezone=self.timezone,
            nodes=tuple(nodes),
            resource_groups=tuple(groups),
            baselines=tuple(baselines),
            alerts=tuple(alerts),
            parameters=params,
            warehouse=warehouse,
            landing=landing,
        )

    # -- sections -------------------------------------------------------------

    def header(self, field: Field) -> tuple[str, dict[str, str], str, str] | None:
        fields = field.mapping(_WORKSPACE_KEYS, required={"name"})
        if fields is None:
            return None
        name = fields["name"].identifier("workspace name") if "name" in fields else None
        if "timezone" in fields:
            self.timezone = self.zone(fields["timezone"]) or self.timezone
        params = self.parameters(fields["parameters"]) if "parameters" in fields else {}
        warehouse = fields["warehouse"].text() if "warehouse" in fields else None
        landing = fields["landing"].text() if "landing" in fields else None
        if name is None:
            return None
        return name, params, warehouse or "warehouse.duckdb", landing or "landing"

    def zone(self, field: Field) -> str | None:
        value = field.text()
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            field.problem(f"unknown time zone {value!r}", "use an IANA name such as Asia/Shanghai")
            return None
        return value

    def resource_groups(self, field: Field | None) -> list[ResourceGroup]:
        groups: dict[str, ResourceGroup] = {}
        for item in field.items() if field else ():
            fields = item.mapping({"name", "slots"}, required={"name", "slots"})
            if not fields or "name" not in fields:
                continue
            name = fields["name"].identifier("group name")
            slots = fields["slots"].integer(1, 1000) if "slots" in fields else None
            if name in self.group_names:
                fields["name"].problem(f"resource group {name!r} is defined twice")
            elif name is not None:
                self.group_names.add(name)
                if slots is not None:
                    groups[name] = ResourceGroup(name, slots)
        groups.setdefault(DEFAULT_GROUP.name, DEFAULT_GROUP)  # like DataWorks' default group
        return list(groups.values())

    def parameters(self, field: Field) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value_field in field.pairs():
            value = value_field.text()
            if not _PARAMETER.fullmatch(name):
                value_field.problem(
                    f"parameter name {name!r} is not valid", "use letters, digits and underscores"
                )
                continue
            if len(name) > MAX_NAME:
                value_field.problem(
                    f"parameter name is too long ({len(name)} characters)",
                    f"at most {MAX_NAME} characters",
                )
                continue
            if name in _STARTUP_VARIABLES or name.startswith(_STARTUP_PREFIXES):
                # Parameters are exported to shell and Python nodes: bash would expand a
                # BASH_ENV value ($(...) included) before the script runs, as code.
                value_field.problem(
                    f"parameter name {name!r} is reserved: bash or python reads it at startup",
                    "choose another name",
                )
                continue
            for error in problems_in_value(value or ""):
                value_field.problem_at(error.expression, error.start, str(error), error.hint)
            # Declared even when the value is wrong, so the code check does not report the
            # name again; a workspace with any problem is never returned.
            params[name] = value or ""
        return params

    def nodes(self, field: Field) -> list[tuple[Node, Field]]:
        located: list[tuple[Node, Field]] = []
        for item in field.items():
            node = self.node(item)
            if node is not None:
                located.append((node, item))
        return located

    def node(self, item: Field) -> Node | None:
        fields = item.mapping(_NODE_KEYS, required={"name", "type", "trigger"})
        if fields is None or "name" not in fields:
            return None
        name = fields["name"].identifier("node name")
        if name is not None:
            self.node_names.add(name)
        kind = (
            fields["type"].choice(NodeType, [t.value for t in NodeType])
            if "type" in fields
            else None
        )
        trigger = self.trigger(fields["trigger"]) if "trigger" in fields else None
        manual = trigger is not None and trigger[0] is TriggerType.MANUAL
        workflow = fields["workflow"].identifier("workflow name") if "workflow" in fields else ""
        if "workflow" in fields and trigger is not None and not manual:
            fields["workflow"].problem(
                "only a manually triggered node belongs to a manual workflow",
                "add 'type: Manual' to its trigger (and remove the cron), or remove 'workflow'",
            )
        values: dict[str, object] = {}
        optional_choices = {
            "recurrence": Recurrence,
            "instance_mode": InstanceMode,
            "rerun_mode": RerunMode,
        }
        for key, enum in optional_choices.items():
            if key in fields:
                values[key] = fields[key].choice(enum, [e.value for e in enum])
        ranges = {"priority": (1, 8), "rerun_times": (0, 10), "timeout": (1, 10080)}
        for key, (low, high) in ranges.items():
            if key in fields:
                values[key] = fields[key].integer(low, high)
        if "rerun_interval" in fields:
            values["rerun_interval"] = self.interval(fields["rerun_interval"])
        for key in ("owner", "description"):
            if key in fields:
                values[key] = fields[key].text(allow_empty=True)
        if "resource_group" in fields:
            values["resource_group"] = fields["resource_group"].identifier("resource group")
        params = self.parameters(fields["parameters"]) if "parameters" in fields else {}
        params.setdefault("bizdate", "$bizdate")  # DataWorks pre-fills bizdate=$bizdate
        depends = self.depends(fields["depends"]) if "depends" in fields else ()
        code, code_file = self.code(fields, kind, params)
        if (
            name is None
            or kind is None
            or trigger is None
            or workflow is None
            or None in values.values()
        ):
            group = values.get("resource_group", DEFAULT_GROUP.name)
            self.unbuilt.append((depends, group, item))  # type: ignore[arg-type]
            return None
        trigger_type, cron, start, end = trigger
        return Node(
            name=name,
            type=kind,
            cron=cron,
            start_date=start,
            end_date=end,
            parameters=params,
            depends=depends,
            code=code,
            code_file=code_file,
            trigger=trigger_type,
            # DataWorks keeps a manual node in a manual workflow: its own unless named
            workflow=(workflow or name) if manual else "",
            **values,  # type: ignore[arg-type]
        )

    def trigger(self, field: Field) -> tuple[TriggerType, str, date | None, date | None] | None:
        fields = field.mapping(_TRIGGER_KEYS)
        if fields is None:
            return None
        types = [t.value for t in TriggerType]
        kind = fields["type"].choice(TriggerType, types) if "type" in fields else None
        if "type" in fields and kind is None:
            return None
        if kind is TriggerType.MANUAL:
            for key in ("cron", "start_time", "end_time"):
                if key in fields:
                    fields[key].problem(
                        f"a Manual trigger has no {key}: the node is never scheduled",
                        "remove it to run the node by hand, or remove 'type: Manual'",
                    )
                    return None
            return TriggerType.MANUAL, "", None, None
        if "cron" not in fields:
            field.problem("missing required key 'cron'", "or write type: Manual to run it by hand")
            return None
        cron = fields["cron"].text()
        if cron is not None:
            try:
                parse_cron(cron)
            except CronError as exc:
                fields["cron"].problem(
                    str(exc), "DataWorks cron: 'ss mi hh dd MM ww', e.g. 00 30 02 * * ?"
                )
                cron = None
        start = self.day(fields["start_time"]) if "start_time" in fields else None
        end = self.day(fields["end_time"]) if "end_time" in fields else None
        if start and end and end < start:
            fields["end_time"].problem("the effective period ends before it starts")
        if "timezone" in fields:
            zone = fields["timezone"].text()
            if zone is not None and zone != self.timezone:
                fields["timezone"].problem(
                    f"per-node time zones are not supported (workspace: {self.timezone})",
                    "set workspace.timezone, or remove this key",
                )
        return (TriggerType.SCHEDULER, cron, start, end) if cron is not None else None

    def day(self, field: Field) -> date | None:
        value = field.text()
        if value is None:
            return None
        for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(value, pattern).date()
            except ValueError:
                continue
        field.problem(f"{value!r} is not a date", "write yyyy-mm-dd, e.g. 2025-01-01")
        return None

    def interval(self, field: Field) -> int | None:
        value = field.text()
        match = _DURATION.match(value.strip()) if value else None
        if value is not None and not match:
            field.problem(f"{value!r} is not a duration", "seconds, or e.g. 90s, 2m")
        if not match:
            return None
        seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]
        if seconds > 1800:
            field.problem(f"{value} is longer than 30 minutes", "DataWorks allows at most 30m")
            return None
        return seconds

    def depends(self, field: Field) -> tuple[Dependency, ...]:
        found: list[Dependency] = []
        types = [t.value for t in DependencyType]
        for item in field.items():
            if isinstance(item.node, yaml.ScalarNode):
                name = item.identifier("upstream node name")
                if name:
                    found.append(Dependency(DependencyType.NORMAL, name))
                continue
            fields = item.mapping({"node", "type"})
            if fields is None:
                continue
            kind = (
                fields["type"].choice(DependencyType, types)
                if "type" in fields
                else DependencyType.NORMAL
            )
            node = fields["node"].identifier("node name") if "node" in fields else ""
            if kind is None or node is None:
                continue
            needs_node = kind in (DependencyType.NORMAL, DependencyType.CROSS_CYCLE_OTHER)
            if needs_node and not node:
                item.problem(f"a {kind.value} dependency names a node", "add 'node: <name>'")
            elif not needs_node and node:
                fields["node"].problem(
                    f"a {kind.value} dependency names no node",
                    "remove 'node', or use CrossCycleDependsOnOtherNode",
                )
            else:
                found.append(Dependency(kind, node))
        return tuple(found)

    def code(
        self, fields: dict[str, Field], kind: NodeType | None, params: dict[str, str]
    ) -> tuple[str, str]:
        if "code" in fields and "file" in fields:
            fields["file"].problem("give either 'code' or 'file', not both")
            return "", ""
        source = fields.get("code") or fields.get("file")
        if kind is NodeType.VIRTUAL:
            if source:
                source.problem("a virtual node runs no code", "remove it, or change the type")
            return "", ""
        if source is None:
            if kind is not None:
                fields["name"].problem(f"a {kind.value} node needs 'code' or 'file'")
            return "", ""
        code_file = ""
        code_path: Path | None = None
        if "file" in fields:
            code_file = source.text() or ""
            code_path = self.folder / code_file
            try:
                code = read_text_file(code_path, MAX_FILE) if code_file else ""
            except FileRefused as exc:
                source.problem(f"code file {code_file!r}: {exc}", "name a script file")
                return "", code_file
            except (OSError, UnicodeDecodeError):
                source.problem(
                    f"code file {code_file!r} not found", f"paths are relative to {self.folder}"
                )
                return "", code_file
        else:
            code = source.text() or ""
        if kind in (NodeType.SQL, NodeType.QUALITY):
            self.check_sql(code, source, code_path, params)
        return code, code_file

    def check_sql(
        self, code: str, source: Field, code_path: Path | None, params: dict[str, str]
    ) -> None:
        """SQL is rendered before it runs: every ${name} must be declared and every other
        form valid. Each problem points at the form, in the code file when there is one."""
        for error in problems_in_code(code, params.keys()):
            if code_path is None:
                source.problem_at(error.expression, error.start, str(error), error.hint)
            else:
                self.report.add_in(
                    str(code_path), code, error.start, source.path, str(error), error.hint
                )

    def check_graph(
        self, located: list[tuple[Node, Field]], workspace: str, groups: set[str]
    ) -> list[Node]:
        """Names, upstreams, resource groups and cycles; adds the workspace root node."""
        root = root_node_name(workspace)
        by_name: dict[str, tuple[Node, Field]] = {}
        for node, item in located:
            if node.name == root:
                item.problem(
                    f"{root!r} is the workspace root node, created by opscenter",
                    "choose another name",
                )
            elif node.name in by_name:
                item.problem(
                    f"node {node.name!r} is defined twice",
                    f"first defined at line {by_name[node.name][1].node.start_mark.line + 1}",
                )
            else:
                by_name[node.name] = (node, item)
        names = set(by_name) | {root} | self.node_names
        nodes: list[Node] = [
            Node(
                name=root,
                type=NodeType.VIRTUAL,
                cron=ROOT_CRON,
                owner="system",
                description="workspace root: every node without upstream hangs off it",
            )
        ]
        built = [(n.depends, n.resource_group, item) for n, item in by_name.values()]
        for depends, group, item in built + self.unbuilt:
            for dep in depends:
                if dep.node and dep.node not in names:
                    _entry(item, "depends", dep.node).problem(
                        f"upstream {dep.node!r} is not a node of this workspace",
                        did_you_mean(dep.node, names),
                    )
            if group is not None and group not in groups:
                _entry(item, "resource_group").problem(
                    f"resource group {group!r} is not defined",
                    did_you_mean(group, groups),
                )
        _check_triggers(by_name, root)
        for node, _item in by_name.values():
            if not node.upstreams and node.trigger is TriggerType.SCHEDULER:
                node = _with_root(node, root)
            nodes.append(node)
        parents = {n.name: [u for u in n.upstreams if u in names] for n in nodes}
        cycle = dag.find_cycle(parents)
        if cycle:
            # cycle[0] depends on cycle[-1]: point at that entry of its depends
            first = _entry(by_name[cycle[0]][1], "depends", cycle[-1])
            first.problem(
                "dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
                "a node cannot wait for itself in the same cycle; use CrossCycleDependsOnSelf",
            )
        return nodes


def _check_triggers(by_name: dict[str, tuple[Node, Field]], root: str) -> None:
    """Edges between auto and manual nodes could never be honoured: a scheduled node
    waiting for a manual one would never run, and a manual workflow (as in DataWorks)
    holds manual nodes only, run together, so a manual node waits only within it."""
    for node, item in by_name.values():
        manual = node.trigger is TriggerType.MANUAL
        for dep in node.depends:
            upstream = by_name.get(dep.node, (None, None))[0]
            upstream_manual = upstream is not None and upstream.trigger is TriggerType.MANUAL
            if not manual and upstream_manual:
                _entry(item, "depends", dep.node).problem(
                    f"auto triggered node {node.name!r} depends on manually triggered "
                    f"{dep.node!r}, which is never scheduled: it would never run",
                    f"remove the dependency, or make {node.name} Manual too",
                )
            elif not manual:
                continue
            elif dep.type is not DependencyType.NORMAL:
                _entry(item, "depends", dep.node or None).problem(
                    f"a manually triggered node has no previous cycle ({dep.type.value})",
                    "depend on manual nodes of its workflow by name only",
                )
            elif upstream is None and dep.node != root:
                continue  # an unknown upstream, reported as such
            elif upstream is None or not upstream_manual:  # the root, or a scheduled node
                _entry(item, "depends", dep.node).problem(
                    f"manually triggered node {node.name!r} (workflow {node.workflow!r}) "
                    f"depends on auto triggered {dep.node!r}: a manual workflow waits only "
                    "for its own manual nodes",
                    "remove the dependency: a manual workflow holds manual nodes only",
                )
            elif upstream.workflow != node.workflow:
                _entry(item, "depends", dep.node).problem(
                    f"manually triggered node {node.name!r} (workflow {node.workflow!r}) "
                    f"depends on {dep.node!r} of workflow {upstream.workflow!r}: a manual "
                    "workflow waits only for its own manual nodes",
                    f"put both in one workflow (workflow: {upstream.workflow}), "
                    "or remove the dependency",
                )


def _with_root(node: Node, root: str) -> Node:
    return replace(node, depends=(Dependency(DependencyType.NORMAL, root), *node.depends))


def _entry(item: Field, key: str, upstream: str | None = None) -> Field:
    """Where to report a problem found after parsing: a node's ``key`` field, or the entry
    of its ``depends`` naming ``upstream``; the node itself when that is not found."""
    if not isinstance(item.node, yaml.MappingNode):
        return item
    for key_node, value_node in item.node.value:
        if key_node.value != key:
            continue
        if upstream is None:
            return Field(value_node, f"{item.path}.{key}", item.report)
        if not isinstance(value_node, yaml.SequenceNode):
            return item
        for index, entry in enumerate(value_node.value):
            path = f"{item.path}.{key}[{index}]"
            if isinstance(entry, yaml.MappingNode):
                entry = next((v for k, v in entry.value if k.value == "node"), entry)
                path += ".node"
            if isinstance(entry, yaml.ScalarNode) and entry.value == upstream:
                return Field(entry, path, item.report)
        return item
    return item
