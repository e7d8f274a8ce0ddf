"""A command imports only what it uses: a read verb answers in a fraction of a second only
if it does not first load the console (Textual), the warehouse (DuckDB), the HTTP client
(httpx), the migration tool (Alembic) or the DataWorks backend, none of which it needs.

Each case runs the real ``main`` in a fresh interpreter, over a real store or over the
emulator on 127.0.0.1, and reads ``sys.modules`` after every verb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opscenter.domain.model import Status
from opscenter.store import migrations
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_backend import SLA_WORKSPACE
from tests.test_dataworks_emulator import KEY_ID, SECRET, serving

HEAVY = ("textual", "duckdb", "httpx", "alembic", "opscenter.backends.dataworks")

# Runs each argv given as JSON through opscenter's main, one after another in this one
# process, and prints which of the heavy modules each verb was the first to load.
PROBE = """
import json, sys
from opscenter.cli import main
heavy, loaded = json.loads(sys.argv[1]), {}
for argv in json.loads(sys.argv[2]):
    code = main(argv)
    new = [name for name in heavy if name in sys.modules and name not in sum(loaded.values(), [])]
    loaded[" ".join(argv[:2])] = new
    if code != 0:
        raise SystemExit(f"{argv} exited {code}")
print(json.dumps(loaded), file=sys.__stderr__)
"""


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 02:00: ok ran, failed failed on morning's key path (an event, an alert), blocked
    waits on it: every read verb has something to show."""
    w = world(SLA_WORKSPACE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    return w


def loaded_by(verbs: list[list[str]], env: dict[str, str]) -> dict[str, list[str]]:
    """Which heavy modules each verb, run in turn in one fresh interpreter, loaded first."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(verbs)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_read_verbs_over_the_local_store_load_none_of_the_heavy_modules(
    scene: World, tmp_path: Path
) -> None:
    db = ["--db", str(scene.store.url)]
    failed, blocked = scene.instance("failed").id, scene.instance("blocked").id
    day = ["--bizdate", "2025-10-31"]  # the scene's business date
    verbs = [
        ["status", *day, *db],
        ["instances", *day, *db],
        ["show", str(failed), *db],
        ["logs", str(failed), *db],
        ["why", str(blocked), *db],
        ["nodes", *db],
        ["node", "failed", *db],
        ["audit", *db],
        ["baselines", *day, *db],
        ["baseline", "morning", "--keypath", *day, *db],
        ["events", *db],
        ["alerts", *db],
        ["backfills", *db],
        ["status", "--json", *day, *db],
    ]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg-state")}
    loaded = loaded_by(verbs, env)
    assert {verb: names for verb, names in loaded.items() if names} == {}


def test_a_verb_over_dataworks_loads_its_backend_and_httpx_but_not_the_console_or_duckdb(
    scene: World, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
    }
    with serving(scene) as url:
        remote = ["--backend", "dataworks", "--endpoint", url, "--timezone", "UTC"]
        remote += ["--workspace-id", str(scene.workspace_id)]
        loaded = loaded_by([["status", *remote], ["instances", *remote]], env)
    everything = sum(loaded.values(), [])
    assert "httpx" in everything and "opscenter.backends.dataworks" in everything
    assert not {"textual", "duckdb", "alembic"} & set(everything), loaded


def test_a_store_is_opened_without_alembic_only_at_the_scripts_newest_revision() -> None:
    """``migrations.HEAD`` is kept by hand so that opening a store needs no Alembic: it must
    be the newest revision of the scripts (else every store is opened the slow way)."""
    assert migrations.head() == migrations.HEAD
