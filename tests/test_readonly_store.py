"""A store its reader cannot write (made by root, folder 0555 and files 0444) is read by
another user: the reading verbs work, and the actions are refused with the reason, which
says that the refusal is not in the audit (the audit is in that store).

The CLI runs as the user ``nobody``, switched to with setpriv. The interpreter may live
where nobody cannot reach it (pyenv under /root), so the process keeps one capability,
CAP_DAC_READ_SEARCH: it may read and search anything, and still write nothing root owns,
which is what these tests are about. Skipped where the tests cannot switch users.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import write_workspace
from tests.processes import run_opscenter

WORKSPACE = """
workspace: {name: shop, timezone: UTC}
nodes:
  - {name: extract, type: virtual, trigger: {cron: "00 00 01 * * ?"}}
  - {name: load, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [extract]}
"""


def _switchable() -> str | None:
    """Why the tests cannot run a process as nobody here, or None if they can."""
    if os.geteuid() != 0:
        return "switching to the user nobody needs root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return "there is no user nobody"
    return None


pytestmark = pytest.mark.skipif(_switchable() is not None, reason=str(_switchable()))


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """`opscenter ARGS` as the user nobody (see the module's docstring)."""
    user = pwd.getpwnam("nobody")
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
            sys.executable,
            "-m",
            "opscenter",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": "/nonexistent"},
        cwd=Path(__file__).parent.parent,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def store() -> Iterator[Path]:
    """A store root made and deployed, with today's instances (by processes that have
    ended, so it is closed: no -wal or -shm file), in a folder everyone may enter."""
    top = Path(tempfile.mkdtemp(prefix="opscenter-readonly-", dir="/tmp"))
    top.chmod(0o755)
    folder = top / "state"
    path = folder / "state.db"
    url = f"sqlite:///{path}"
    workspace = write_workspace(top / "ws", WORKSPACE)
    for args in (["deploy", str(workspace)], ["summary", "--workspace", str(workspace)]):
        done = run_opscenter(*args, "--db", url, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("state.db")) == ["state.db"]
    try:
        yield path
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)


def lock(folder: Path) -> None:
    """The folder 0555 and its files 0444: readable by everyone, writable by no one."""
    for item in folder.iterdir():
        if item.is_file():
            item.chmod(0o444)
    folder.chmod(0o555)


def audit_rows(path: Path) -> int:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as raw:
        return raw.execute("SELECT count(*) FROM audit").fetchone()[0]


def first_instance(path: Path) -> int:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as raw:
        return raw.execute("SELECT min(id) FROM instances").fetchone()[0]


def db(path: Path) -> list[str]:
    return ["--db", f"sqlite:///{path}"]


def test_the_reading_verbs_read_it(store: Path) -> None:
    lock(store.parent)
    for verb in ("status", "instances", "nodes", "audit"):
        done = as_nobody(verb, *db(store))
        assert done.returncode == 0, f"{verb}: {done.stderr}"
        assert "Traceback" not in done.stderr
    assert "extract" in as_nobody("nodes", *db(store)).stdout
    assert "deploy" in as_nobody("audit", *db(store)).stdout


def test_the_summary_says_it_reads_and_generates_nothing(store: Path) -> None:
    """`opscenter summary` (what a piped `opscenter` prints) would deploy and generate today:
    on a store it cannot write, it summarises what is there and says why it wrote nothing."""
    lock(store.parent)
    workspace = store.parent.parent / "ws"
    done = as_nobody("summary", "--workspace", str(workspace), *db(store))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert f"read-only: the store {store} is read-only for nobody" in done.stdout
    assert "Nodes · 3 deployed (3 virtual)" in done.stdout
    assert "generated" not in done.stdout


def test_an_action_is_refused_with_the_reason_and_says_it_is_not_audited(store: Path) -> None:
    lock(store.parent)
    rows = audit_rows(store)
    done = as_nobody("rerun", str(first_instance(store)), *db(store))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    refusal = done.stderr.strip()
    assert refusal.startswith("refused: rerun is not available: ")
    assert f"the store {store} is read-only for nobody" in refusal
    assert (
        f"its file has mode 0444 (owner root) and its folder {store.parent} has mode 0555 "
        "(owner root)"
    ) in refusal
    assert "this refusal is not in the audit, in that store" in refusal
    assert audit_rows(store) == rows


def test_a_deploy_and_a_scheduler_are_refused_with_the_reason(store: Path) -> None:
    lock(store.parent)
    workspace = store.parent.parent / "ws"
    for args in (["deploy", str(workspace)], ["scheduler", "--workspace", "shop"]):
        done = as_nobody(*args, *db(store))
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert f"the store {store} is read-only for nobody" in done.stderr


def test_a_store_its_owner_has_open_is_read_as_it_is_now(store: Path) -> None:
    """A writer has the store open (its -wal and -shm exist): the reader sees what is in
    the WAL too, not only what has reached the file."""
    with closing(sqlite3.connect(store)) as owner:
        owner.execute("PRAGMA journal_mode=WAL")
        owner.execute("PRAGMA wal_autocheckpoint=0")  # what follows stays in the WAL
        lock(store.parent)
        owner.execute(
            "INSERT INTO audit (at, user, action, targets, outcome, detail, source) "
            "VALUES ('2025-11-01 00:00:00', 'root', 'written while open', '[]', 'ok', '', 'cli')"
        )
        owner.commit()
        assert store.with_name("state.db-wal").exists()
        done = as_nobody("audit", *db(store))
        assert done.returncode == 0, done.stderr
        assert "written while open" in done.stdout


def test_an_older_store_it_cannot_write_is_refused_not_upgraded(store: Path) -> None:
    """An upgrade writes, so an older store that cannot be written is refused, untouched."""
    shutil.copyfile(Path(__file__).parent / "fixtures" / "store-0001.db", store)
    lock(store.parent)
    content = store.read_bytes()
    done = as_nobody("status", *db(store))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "schema version 1 (made before migrations)" in done.stderr
    assert "so it cannot be upgraded here" in done.stderr
    assert store.read_bytes() == content
    assert [p.name for p in store.parent.iterdir()] == ["state.db"]


def test_an_empty_file_it_cannot_write_is_not_made_a_store(store: Path) -> None:
    store.write_bytes(b"")
    lock(store.parent)
    done = as_nobody("status", *db(store))
    assert done.returncode == 2, done.stderr
    assert "is empty, and no store can be made in it: the store" in done.stderr
    assert "Traceback" not in done.stderr
