"""A throwaway PostgreSQL cluster for the tests that run on both stores.

One cluster per test process (each xdist worker starts its own, on its own free port),
made with the newest ``initdb`` under /usr/lib/postgresql, listening on 127.0.0.1 only,
its socket and files in a fresh temp folder that is removed at the end. Running as root,
the cluster runs as the ``postgres`` user (PostgreSQL refuses root). Each test gets a
database of its own, dropped afterwards.

Without initdb or psycopg the PostgreSQL tests are skipped, unless
OPSCENTER_REQUIRE_POSTGRES=1 (CI sets it), which makes that a failure: a green CI means
they ran. A cluster that is there but does not start is always a failure.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from opscenter.store.db import open_store

REQUIRE = "OPSCENTER_REQUIRE_POSTGRES"
STORES = ["sqlite", "postgresql"]
_names = itertools.count()


@dataclass(frozen=True)
class Cluster:
    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database of this cluster (dropped with the cluster)."""
        name = f"t{os.getpid()}_{next(_names)}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


class ClusterUnavailable(Exception):
    """PostgreSQL is not there to start (no driver, no server, no postgres user)."""


class ClusterBroken(Exception):
    """PostgreSQL is installed but did not start."""


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """A cluster started for the block and stopped and removed after it (the tests' and
    bench/scheduler.py's)."""
    if importlib.util.find_spec("psycopg") is None:
        raise ClusterUnavailable("psycopg is not installed (pip install 'opscenter[postgres]')")
    bin_dir = _newest_bin()
    if bin_dir is None:
        raise ClusterUnavailable("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise ClusterUnavailable(
                "running as root, and there is no postgres user to run the cluster"
            ) from None
    folder = Path(tempfile.mkdtemp(prefix="opscenter-pg-"))
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    try:
        try:
            cluster = _start(bin_dir, folder)
        except RuntimeError as exc:
            raise ClusterBroken(str(exc)) from None
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            _run(
                [str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"],
                "pg_ctl stop",
            )
        shutil.rmtree(folder, ignore_errors=True)


def _unavailable(why: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"PostgreSQL tests cannot run ({REQUIRE}=1): {why}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {why}")


def _newest_bin() -> Path | None:
    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return Path(found[-1]).parent if found else None


def _as_owner(args: list[str]) -> list[str]:
    """PostgreSQL will not run as root: there, its commands run as the postgres user."""
    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    return [runuser or "runuser", "-u", "postgres", "--", *args]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(_as_owner(args), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _start(bin_dir: Path, folder: Path) -> Cluster:
    data = folder / "data"
    _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        + ["--no-sync", "-E", "UTF8", "--locale=C"],
        "initdb",
    )
    options = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    last = ""
    for _attempt in range(5):  # another worker may take the free port first
        port = _free_port()
        ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w"]
        server = f"-h 127.0.0.1 -p {port} -k {folder} -c max_connections=200 {options}"
        try:
            _run([*ctl, "-t", "60", "-o", server, "start"], "pg_ctl start")
        except RuntimeError as exc:
            last = str(exc) + (folder / "log").read_text(errors="replace")[-2000:]
            continue
        return Cluster(port, folder)
    raise RuntimeError(last)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A running cluster for this test process, stopped and removed at the end."""
    try:
        with throwaway_cluster() as cluster:
            yield cluster
    except ClusterUnavailable as why:
        _unavailable(str(why))
    except ClusterBroken as why:  # installed but broken: a failure, never a skip
        pytest.fail(f"no PostgreSQL cluster could be started: {why}", pytrace=False)


@pytest.fixture(scope="session")
def _postgres_admin(postgres_cluster: Cluster) -> Iterator[Engine]:
    admin = create_engine(postgres_cluster.url(), isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster, _postgres_admin: Engine) -> Iterator[str]:
    """The URL of a fresh, empty database of this test's own; dropped afterwards."""
    url = postgres_cluster.new_database()
    yield url
    with _postgres_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)'))


@pytest.fixture(params=STORES)
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A new store's URL, once on SQLite and once on PostgreSQL. The data folder (warehouse,
    landing, logs) of a server store is under $XDG_STATE_HOME, here this test's own."""
    if request.param == "postgresql":
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'state' / 'state.db'}"


@pytest.fixture
def any_store(store_url: str) -> Iterator[Engine]:
    """The store at ``store_url``, opened (its schema made) as the product opens it."""
    engine = open_store(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def any_world(tmp_path: Path, any_store: Engine):
    """The ``world`` fixture (conftest.py) on either store."""
    from tests.harness import worlds

    with worlds(tmp_path, any_store) as make:
        yield make
