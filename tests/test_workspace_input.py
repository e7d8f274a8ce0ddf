"""Hostile workspace input, through the real CLI: YAML nested thousands deep, names that
only begin as a valid name, and paths that are no file to read (a device, a FIFO, a
directory, a file too large). Each is refused at once, located and explained, with the
usual exit code and never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_workspace_loader import MINI, edit, write_workspace

# Refused "at once": a Python start and a few imports, never a read that does not end.
SECONDS = 10


def opscenter(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`opscenter ARGS` as a user runs it (like tests.processes.run_opscenter), but given
    seconds, not minutes: a read that hangs or a file that grows fails the test."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    env.pop("OPSCENTER_CONFIG", None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "opscenter", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert time.monotonic() - started < SECONDS, f"took {time.monotonic() - started:.1f}s"
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    return done


def located(done: subprocess.CompletedProcess[str], file: Path, *words: str) -> str:
    """The one line of the output that locates a problem in ``file`` and says ``words``."""
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"{file}:")]
    assert lines, done.stderr[-3000:]
    found = [line for line in lines if all(word in line for word in words)]
    assert found, done.stderr[-3000:]
    assert re.match(rf"{re.escape(str(file))}:\d+:\d+: ", found[0]), found[0]
    return found[0]


# -- nesting --------------------------------------------------------------------------------


def flow_lists(depth: int) -> str:
    return "workspace: {name: deep}\nnodes: " + "[" * depth + "]" * depth + "\n"


def flow_mappings(depth: int) -> str:
    return "workspace: {name: deep}\nnodes: " + "{a: " * depth + "x" + "}" * depth + "\n"


def block_mappings(depth: int) -> str:
    keys = "".join(f"{' ' * level}k{level}:\n" for level in range(depth))
    return "workspace: {name: deep}\nnodes:\n" + keys + " " * depth + "x\n"


def block_lists(depth: int) -> str:
    return "workspace: {name: deep}\nnodes:\n" + "- " * depth + "x\n"


@pytest.mark.parametrize(
    ("shape", "depth"),
    [
        (flow_lists, 500),
        (flow_lists, 5_000),
        (flow_lists, 100_000),
        (flow_mappings, 500),
        (flow_mappings, 5_000),
        (flow_mappings, 100_000),
        (block_mappings, 500),
        (block_mappings, 5_000),  # 12 MB of indentation: under the size cap
        (block_lists, 100_000),  # block mappings that deep would need 5 GB of indentation
    ],
)
def test_yaml_nested_too_deeply_is_one_located_problem(tmp_path: Path, shape, depth: int) -> None:
    folder = write_workspace(tmp_path / "ws", shape(depth))
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr[-3000:]
    line = located(done, folder / "workspace.yaml", "nested too deeply")
    assert "(hint: " in line, line


# -- names ----------------------------------------------------------------------------------


def renamed(*edits: tuple[str, str]) -> str:
    text = MINI
    for old, new in edits:
        text = edit(text, old, new)
    return text


ALERT = "nodes: [report]", "nodes: [report]\nalerts:\n  - {name: %s, trigger: Error, nodes: [%s]}"
# Each name is declared and referred to with the same newline, so only the name check
# itself can refuse it (not an unknown reference).
NAMES = [
    pytest.param([("name: mini", 'name: "mini\\n"')], id="workspace name"),
    pytest.param(
        [("- name: etl", '- name: "etl\\n"'), ("resource_group: etl", 'resource_group: "etl\\n"')],
        id="resource group name",
    ),
    pytest.param(
        [("- name: load", '- name: "load\\n"'), ("depends: [load]", 'depends: ["load\\n"]')],
        id="node name and upstream",
    ),
    pytest.param(
        [("- name: report", '- name: "report\\n"'), ("nodes: [report]", 'nodes: ["report\\n"]')],
        id="node name in a baseline",
    ),
    pytest.param([("- name: morning", '- name: "morning\\n"')], id="baseline name"),
    pytest.param([('committed_time: "08:00"', 'committed_time: "08:00\\n"')], id="baseline time"),
    pytest.param(
        [("timezone: Asia/Shanghai", 'timezone: Asia/Shanghai\n  parameters: {"p\\n": x}')],
        id="workspace parameter name",
    ),
    pytest.param(
        [("    code: echo done", '    code: echo done\n    parameters: {"p\\n": x}')],
        id="node parameter name",
    ),
    pytest.param(
        [("    code: echo done", '    code: echo done\n    workflow: "w\\n"')],
        id="workflow name",
    ),
    pytest.param([(ALERT[0], ALERT[1] % ('"a\\n"', "report"))], id="alert rule name"),
    pytest.param(
        [
            ("- name: report", '- name: "report\\n"'),
            (
                ALERT[0],
                ALERT[1].replace("nodes: [report]", 'nodes: ["report\\n"]', 1)
                % ("a", '"report\\n"'),
            ),
        ],
        id="node name in an alert rule",
    ),
]


@pytest.mark.parametrize("edits", NAMES)
def test_a_name_with_a_trailing_newline_is_refused(
    tmp_path: Path, edits: list[tuple[str, str]]
) -> None:
    folder = write_workspace(tmp_path / "ws", renamed(*edits))
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    located(done, folder / "workspace.yaml", "\\n")


LONG = "n" * 129  # one more than DataWorks accepts for a node name (128 characters)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("name: mini", f"name: {LONG}", id="workspace name"),
        pytest.param("- name: load", f"- name: {LONG}", id="node name"),
        pytest.param(
            "timezone: Asia/Shanghai",
            f"timezone: Asia/Shanghai\n  parameters: {{{LONG}: x}}",
            id="parameter name",
        ),
        pytest.param("- name: morning", f"- name: {LONG}", id="baseline name"),
    ],
)
def test_a_name_longer_than_the_limit_is_refused(tmp_path: Path, old: str, new: str) -> None:
    folder = write_workspace(tmp_path / "ws", edit(MINI, old, new))
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    line = located(done, folder / "workspace.yaml", "too long")
    assert "128" in line.partition("(hint: ")[2], line


def test_a_name_of_the_limit_is_accepted(tmp_path: Path) -> None:
    text = edit(MINI, "- name: load", f"- name: {'n' * 128}")
    folder = write_workspace(tmp_path / "ws", edit(text, "depends: [load]", "depends: []"))
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


# -- paths ----------------------------------------------------------------------------------


def test_a_device_is_refused_at_once(tmp_path: Path) -> None:
    done = opscenter("validate", "/dev/zero", tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    located(done, Path("/dev/zero"), "not a regular file")


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "workspace.yaml"
    os.mkfifo(fifo)
    done = opscenter("validate", str(fifo), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    located(done, fifo, "not a regular file")


def test_a_fifo_in_the_folder_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "workspace.yaml")
    done = opscenter("validate", str(tmp_path), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    located(done, tmp_path / "workspace.yaml", "not a regular file")


def test_a_folder_without_workspace_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = opscenter("validate", str(tmp_path / "empty"), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    located(done, tmp_path / "empty" / "workspace.yaml", "file not found")


def test_a_workspace_yaml_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    folder = write_workspace(tmp_path / "ws", MINI)
    with (folder / "workspace.yaml").open("a") as file:  # sparse: 17 MB of nothing
        file.truncate(17 * 1024 * 1024)
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    line = located(done, folder / "workspace.yaml", "too large")
    assert "16 MB" in line, line


def test_a_code_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    folder = write_workspace(
        tmp_path / "ws", edit(MINI, "    code: echo done", "    file: /dev/zero")
    )
    done = opscenter("validate", str(folder), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    located(done, folder / "workspace.yaml", "/dev/zero", "not a regular file")


def test_a_config_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    folder = write_workspace(tmp_path / "ws", MINI)
    done = opscenter("--config", str(fifo), "status", "--workspace", str(folder), tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert str(fifo) in done.stderr and "not a regular file" in done.stderr, done.stderr
