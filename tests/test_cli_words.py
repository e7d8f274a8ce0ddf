"""The words of the command line, as an operator reads them from the real `opscenter`
process (issue 15, "The CLI"): a refusal says "refused" once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.processes import run_opscenter


def _env(state: Path, **extra: str) -> dict[str, str]:
    """The operator's environment: their own state folder, and no COLUMNS to fake a width."""
    env = {**os.environ, "XDG_STATE_HOME": str(state), **extra}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo deployed once (`opscenter` piped prints its summary): the environment."""
    env = _env(tmp_path_factory.mktemp("demo-state"))
    done = run_opscenter(env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_a_read_only_refusal_says_refused_once(demo: dict[str, str]) -> None:
    done = run_opscenter("rerun", "1", "--readonly", env=demo)
    assert done.returncode == 3
    assert done.stderr == "refused: rerun is not available: opscenter runs read-only (--readonly)\n"
