"""Executors: what an operator sees when one attempt runs, fails, or is stopped.

Real bash, real Python subprocesses and a real DuckDB warehouse file; nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from opscenter.domain.model import NodeType
from opscenter.domain.params import substitute
from opscenter.scheduler.executors import Execution, Executors, Job, Outcome
from opscenter.scheduler.logerrors import find_error
from opscenter.scheduler.logfile import read_page, tail_offset
from tests.processes import alive, eventually

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo"
STAMP = datetime(2025, 11, 1, 8, 15, 42, tzinfo=ZoneInfo("Asia/Shanghai"))  # the world's time
CYCTIME = datetime(2025, 11, 1, 0, 30)
BIZDATE = date(2025, 10, 31)


@pytest.fixture
def executors(tmp_path: Path) -> Iterator[Executors]:
    runner = Executors(tmp_path / "warehouse.duckdb", tmp_path / "landing", now=lambda: STAMP)
    yield runner
    runner.close()


def make_job(
    tmp_path: Path,
    node_type: NodeType,
    code: str,
    parameters: dict[str, str] | None = None,
    *,
    node: str = "node_a",
    attempt: int = 1,
    instance_id: int = 42,
    bizdate: date = BIZDATE,
    cyctime: datetime = CYCTIME,
    triggered_by: str = "scheduler",
    speed: float = 1.0,
) -> Job:
    return Job(
        instance_id=instance_id,
        attempt=attempt,
        node=node,
        node_type=node_type,
        code=code,
        parameters=dict(parameters or {}),
        cyctime=cyctime,
        bizdate=bizdate,
        triggered_by=triggered_by,
        log_path=tmp_path / "logs" / node / str(instance_id) / f"attempt-{attempt}.log",
        speed=speed,
    )


def log_of(job: Job) -> str:
    return job.log_path.read_text(encoding="utf-8")


def body_of(job: Job) -> list[str]:
    """The log lines after the header."""
    text = log_of(job)
    return text.split("-" * 60 + "\n", 1)[1].splitlines()


def wait_in_thread(execution: Execution) -> tuple[threading.Thread, list[Outcome]]:
    result: list[Outcome] = []
    thread = threading.Thread(target=lambda: result.append(execution.wait()), daemon=True)
    thread.start()
    return thread, result


# --------------------------------------------------------------------- logs


def test_log_starts_with_a_header_naming_the_run(tmp_path: Path, executors: Executors) -> None:
    job = make_job(
        tmp_path,
        NodeType.SHELL,
        "echo hello",
        {"block": "03", "bizdate": "20251031", "odd": "a\nnode: forged"},
        node="ods_orders_hourly",
        attempt=2,
        instance_id=1234,
        triggered_by="rerun by alice",
    )
    outcome = executors.start(job).wait()
    assert outcome == Outcome(True, 0, "")
    header, body = log_of(job).split("-" * 60 + "\n", 1)
    assert header.splitlines() == [
        "node:         ods_orders_hourly (shell)",
        "instance id:  1234",
        "cyctime:      2025-11-01 00:30:00 CST",
        "started:      2025-11-01 08:15:42 CST",
        "bizdate:      20251031",
        "attempt:      2",
        "triggered by: rerun by alice",
        "parameters:",
        "  block=03",
        "  bizdate=20251031",
        "  odd=a\\nnode: forged",  # a newline in a value cannot forge a header line
    ]
    lines = body.splitlines()
    assert "hello" in lines
    # the executor's own lines carry the (injected) wall time; the script's output does not
    own = [line for line in lines if line != "hello"]
    assert own and all(line.startswith("08:15:42 ") for line in own)
    assert own[-1].startswith("08:15:42 finished: exit code 0")


def test_log_and_its_folders_are_private(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SHELL, "true")
    executors.start(job).wait()
    assert stat.S_IMODE(job.log_path.stat().st_mode) == 0o600
    for folder in (job.log_path.parent, job.log_path.parent.parent, tmp_path / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_virtual_node_succeeds_with_only_a_header(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.VIRTUAL, "", node="ods_start")
    execution = executors.start(job)
    assert execution.pid is None
    assert execution.wait().success
    assert body_of(job) == []
    assert "node:         ods_start (virtual)" in log_of(job)


def test_unwritable_log_folder_is_a_failed_outcome(tmp_path: Path, executors: Executors) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    job = make_job(tmp_path, NodeType.SHELL, "echo should-not-run > ran.txt")
    job = Job(**{**job.__dict__, "log_path": blocker / "attempt-1.log"})
    outcome = executors.start(job).wait()
    assert not outcome.success and outcome.exit_code is None
    assert outcome.reason.startswith(f"cannot write log {blocker / 'attempt-1.log'}")
    assert not (tmp_path / "landing" / "ran.txt").exists()


def test_missing_bash_is_a_failed_outcome(
    tmp_path: Path, executors: Executors, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    job = make_job(tmp_path, NodeType.SHELL, "echo hi")
    outcome = executors.start(job).wait()
    assert outcome == Outcome(False, None, "cannot start shell node: bash not found on PATH")
    assert "bash not found" in log_of(job)


def test_an_unwritable_script_is_a_failed_outcome_its_log_says(
    tmp_path: Path, executors: Executors
) -> None:
    job = make_job(tmp_path, NodeType.SHELL, "echo should-not-run > ran.txt")
    script = job.log_path.with_name(f"{job.instance_id}.{job.attempt}.code.sh")
    script.mkdir(parents=True)  # where the code would be written is taken
    outcome = executors.start(job).wait()
    assert not outcome.success and outcome.exit_code is None
    assert outcome.reason.startswith(f"cannot write script {script}: ")
    log = log_of(job)
    assert "node:         node_a (shell)" in log  # the header, then why nothing started
    assert body_of(job)[-1].endswith(outcome.reason)
    assert "starting" not in log
    assert not (tmp_path / "landing" / "ran.txt").exists()


@pytest.mark.parametrize("node_type", [NodeType.SHELL, NodeType.PYTHON])
def test_a_node_named_like_an_error_has_no_error_line_of_its_own(
    tmp_path: Path, executors: Executors, node_type: NodeType
) -> None:
    """The executor's lines name the script it starts: not the node, whose name could read
    as an error (`e` would stop at the start of every run of it)."""
    job = make_job(
        tmp_path, node_type, "print('ok')" if node_type is NodeType.PYTHON else "echo ok"
    )
    named = job.log_path.with_name(f"failed_rows_error.{job.instance_id}.1.log")  # as scheduled
    job = Job(**{**job.__dict__, "node": "failed_rows_error", "log_path": named})
    assert executors.start(job).wait().success
    assert find_error(job.log_path, 0, forward=True, cause=False) is None


# -------------------------------------------------------------------- shell


def test_a_node_is_not_given_the_postgresql_stores_password(
    tmp_path: Path, executors: Executors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libpq reads PGPASSWORD from the scheduler's environment; the workspace's code must not
    (an `env` in a script would print it to its log)."""
    monkeypatch.setenv("PGPASSWORD", "s3cret-store-password")
    job = make_job(tmp_path, NodeType.SHELL, 'echo "[${PGPASSWORD-unset}]"; env')
    assert executors.start(job).wait().success
    assert "[unset]" in body_of(job)
    assert "s3cret-store-password" not in log_of(job)


def test_shell_gets_parameters_as_arguments_and_environment(
    tmp_path: Path, executors: Executors
) -> None:
    script = """\
echo "args: $# [$1] [$2]"
echo "env: [$block] [$bizdate]"
echo "landing=$OPSCENTER_LANDING attempt=$OPSCENTER_ATTEMPT id=$OPSCENTER_INSTANCE_ID"
echo "node=$OPSCENTER_NODE bizdate=$OPSCENTER_BIZDATE cyctime=$OPSCENTER_CYCTIME"
echo "speed=$OPSCENTER_SPEED cwd=$(pwd)"
"""
    job = make_job(
        tmp_path,
        NodeType.SHELL,
        script,
        {"block": "07", "bizdate": "20251031"},
        node="ods_users_snapshot",
        attempt=3,
        instance_id=77,
        speed=60.0,
    )
    assert executors.start(job).wait().success
    landing = (tmp_path / "landing").resolve()
    body = body_of(job)
    assert "args: 2 [07] [20251031]" in body
    assert "env: [07] [20251031]" in body
    assert f"landing={landing} attempt=3 id=77" in body
    assert "node=ods_users_snapshot bizdate=20251031 cyctime=20251101003000" in body
    assert f"speed=60 cwd={landing}" in body


HOSTILE = {
    "semicolon": "; touch pwned_semicolon",
    "subst": "$(touch pwned_subst)",
    "backtick": "`touch pwned_backtick`",
    "quotes": "'\"; touch pwned_quotes; echo \"'",
    "newline": "x\ntouch pwned_newline",
    "glob": "*",
}


def test_parameter_values_reach_a_shell_script_as_data_never_as_code(
    tmp_path: Path, executors: Executors
) -> None:
    # Even a careless script with unquoted expansions must not execute a value.
    script = """\
for value in "$@"; do printf 'arg:[%s]\\n' "$value"; done
printf 'env:[%s]\\n' "$subst" "$backtick"
echo unquoted: $semicolon $subst $backtick
"""
    job = make_job(tmp_path, NodeType.SHELL, script, HOSTILE)
    outcome = executors.start(job).wait()
    assert outcome.success, outcome
    text = log_of(job)
    for value in HOSTILE.values():
        assert f"arg:[{value}]" in text
    assert "env:[$(touch pwned_subst)]" in text
    assert "env:[`touch pwned_backtick`]" in text
    for folder in (tmp_path, tmp_path / "landing", Path.cwd()):
        assert not list(folder.glob("pwned*")), f"a parameter value ran as code in {folder}"


def test_non_zero_exit_fails_with_the_last_line_as_reason(
    tmp_path: Path, executors: Executors
) -> None:
    script = """\
echo "GET catalogue-api/products" >&2
echo "ERROR: read timed out after 30s (catalogue API)" >&2
exit 4
"""
    job = make_job(tmp_path, NodeType.SHELL, script)
    outcome = executors.start(job).wait()
    assert outcome == Outcome(
        False, 4, "exit code 4: ERROR: read timed out after 30s (catalogue API)"
    )
    body = body_of(job)
    assert "ERROR: read timed out after 30s (catalogue API)" in body  # stderr is in the log
    assert body[-1].startswith("08:15:42 failed: exit code 4")


def test_silent_failure_reason_is_just_the_exit_code(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SHELL, "exit 3")
    assert executors.start(job).wait() == Outcome(False, 3, "exit code 3")


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    executors = Executors(tmp_path / "w.duckdb", tmp_path / "landing", kill_grace=10)
    script = """\
sleep 300 &
echo "child $!"
sleep 300
"""
    job = make_job(tmp_path, NodeType.SHELL, script)
    execution = executors.start(job)
    assert execution.pid is not None
    assert eventually(lambda: "child " in log_of(job), 30)
    child = int(next(line for line in body_of(job) if line.startswith("child ")).split()[1])
    assert os.getpgid(execution.pid) == execution.pid  # its own process group
    assert os.getpgid(child) == execution.pid
    thread, result = wait_in_thread(execution)

    began = time.monotonic()
    execution.kill("stopped by alice")
    thread.join(timeout=8)
    assert not thread.is_alive(), "wait() did not return after kill"
    assert time.monotonic() - began < 5  # both obey SIGTERM: well inside the 10 s grace
    assert result[0].reason == "stopped by alice"
    assert not result[0].success
    assert not alive(execution.pid)
    assert not alive(child)
    assert any(line.endswith("killed: stopped by alice") for line in body_of(job))
    executors.close()


def test_a_process_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    runner = Executors(tmp_path / "w.duckdb", tmp_path / "landing", kill_grace=0.5)
    script = """\
trap '' TERM
echo ready
while true; do sleep 0.05; done
"""
    job = make_job(tmp_path, NodeType.SHELL, script)
    execution = runner.start(job)
    assert eventually(lambda: "ready" in log_of(job), 30)
    assert execution.pid is not None
    began = time.monotonic()
    execution.kill("timed out after 60 minutes")
    outcome = execution.wait()
    elapsed = time.monotonic() - began
    assert outcome.reason == "timed out after 60 minutes"
    assert outcome.exit_code == -signal.SIGKILL
    assert 0.45 <= elapsed < 5  # SIGTERM was ignored, SIGKILL came after the grace
    assert not alive(execution.pid)
    assert "SIGKILL" in log_of(job)
    runner.close()


def test_background_processes_left_by_a_finished_script_are_stopped(
    tmp_path: Path, executors: Executors
) -> None:
    job = make_job(tmp_path, NodeType.SHELL, 'sleep 300 &\necho "child $!"\n')
    assert executors.start(job).wait().success
    child = int(next(line for line in body_of(job) if line.startswith("child ")).split()[1])
    assert eventually(lambda: not alive(child), 10)


def test_kill_after_the_end_changes_nothing(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SHELL, "echo done")
    execution = executors.start(job)
    assert execution.wait().success
    execution.kill("stopped by bob")
    assert execution.wait() == Outcome(True, 0, "")
    assert "killed" not in log_of(job)


# ------------------------------------------------------------------- python


def test_python_node_reads_parameters_from_argv_and_environment(
    tmp_path: Path, executors: Executors
) -> None:
    source = """\
import os, sys
print("argv", sys.argv[1:])
print("env", os.environ["block"], os.environ["bizdate"], os.environ["OPSCENTER_SPEED"])
print("cwd", os.getcwd() == os.environ["OPSCENTER_LANDING"])
print("python", sys.executable)
"""
    job = make_job(
        tmp_path, NodeType.PYTHON, source, {"block": "05", "bizdate": "20251031"}, speed=2.5
    )
    assert executors.start(job).wait() == Outcome(True, 0, "")
    body = body_of(job)
    assert "argv ['05', '20251031']" in body
    assert "env 05 20251031 2.5" in body
    assert "cwd True" in body
    assert f"python {sys.executable}" in body


def test_python_failure_reason_shows_its_last_words(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.PYTHON, "raise SystemExit('orders file is missing')")
    assert executors.start(job).wait() == Outcome(False, 1, "exit code 1: orders file is missing")


def test_log_is_readable_while_the_process_runs(
    tmp_path: Path, executors: Executors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the executor must not rely on it
    go = tmp_path / "go"  # the script holds stage 2 until the test has read stage 1
    source = (
        "import os, time\nprint('stage 1/2 done')\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
        "print('stage 2/2 done')\n"
    )
    job = make_job(tmp_path, NodeType.PYTHON, source)
    execution = executors.start(job)
    thread, result = wait_in_thread(execution)
    assert eventually(lambda: "stage 1/2 done" in log_of(job), 30)
    assert thread.is_alive() and not result  # still running: the line was not held back
    assert "stage 2/2 done" not in log_of(job)
    go.touch()
    thread.join(timeout=10)
    assert result == [Outcome(True, 0, "")]
    assert "stage 2/2 done" in body_of(job)


# ---------------------------------------------------------------------- sql


def warehouse_rows(executors: Executors, query: str) -> list[tuple[object, ...]]:
    """Look into the warehouse the way an operator would after the scheduler let go of it."""
    executors.close()
    with duckdb.connect(str(executors.warehouse), read_only=True) as connection:
        return connection.execute(query).fetchall()


def test_sql_statements_are_logged_with_row_counts(tmp_path: Path, executors: Executors) -> None:
    sql = """\
-- daily load: comments are not what the operator wants to read
CREATE TABLE t AS SELECT range AS id FROM range(5);
INSERT INTO t VALUES (10), (11), (12);
DELETE FROM t WHERE id >= 11;
SELECT *
FROM t WHERE id < 3;
"""
    job = make_job(tmp_path, NodeType.SQL, sql)
    execution = executors.start(job)
    assert execution.pid is None
    assert execution.wait() == Outcome(True, None, "")
    body = [line.removeprefix("08:15:42 ").strip() for line in body_of(job)]
    assert body[0] == "running 4 statements on warehouse.duckdb in one transaction"
    assert body[1] == "[1/4] CREATE TABLE t AS SELECT range AS id FROM range(5);"
    assert body[2].startswith("5 rows affected in ")
    assert body[3] == "[2/4] INSERT INTO t VALUES (10), (11), (12);"
    assert body[4].startswith("3 rows affected in ")
    assert body[5] == "[3/4] DELETE FROM t WHERE id >= 11;"
    assert body[6].startswith("2 rows affected in ")
    assert body[7] == "[4/4] SELECT * …"
    assert body[8].startswith("3 rows returned in ")
    assert body[9].startswith("finished: 4 statements in ")
    assert warehouse_rows(executors, "SELECT count(*) FROM t") == [(6,)]


def test_sql_error_fails_with_its_first_line_and_keeps_nothing(
    tmp_path: Path, executors: Executors
) -> None:
    setup = make_job(tmp_path, NodeType.SQL, "CREATE TABLE t (id INTEGER)", node="setup")
    assert executors.start(setup).wait().success
    job = make_job(tmp_path, NodeType.SQL, "INSERT INTO t VALUES (1);\nSELECT nosuch FROM t;")
    outcome = executors.start(job).wait()
    assert not outcome.success and outcome.exit_code is None
    assert outcome.reason.startswith('Binder Error: Referenced column "nosuch" not found')
    assert "\n" not in outcome.reason
    text = log_of(job)
    assert "statement 2 failed" in text
    assert 'Candidate bindings: "id"' in text  # the full message is in the log
    assert "rolled back" in text
    assert warehouse_rows(executors, "SELECT count(*) FROM t") == [(0,)]


def test_sql_that_does_not_parse_fails_cleanly(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SQL, "SELEC 1")
    outcome = executors.start(job).wait()
    assert outcome.reason.startswith("Parser Error: syntax error at or near")
    assert "the SQL does not parse" in log_of(job)


# Over a minute of work: far longer than any test waits, short enough not to hang a broken run.
LONG_QUERY = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(20) b"


def test_kill_interrupts_a_long_query_promptly(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SQL, LONG_QUERY)
    execution = executors.start(job)
    thread, result = wait_in_thread(execution)
    assert eventually(lambda: "[1/1]" in log_of(job), 30)
    time.sleep(0.2)
    execution.kill("timed out after 60 minutes")
    thread.join(timeout=5)
    assert not thread.is_alive(), "the query was not interrupted"
    assert result == [Outcome(False, None, "timed out after 60 minutes")]
    assert any(line.endswith("killed: timed out after 60 minutes") for line in body_of(job))


def test_sql_killed_before_it_runs_does_nothing(tmp_path: Path, executors: Executors) -> None:
    setup = make_job(tmp_path, NodeType.SQL, "CREATE TABLE t AS SELECT 1 AS x", node="setup")
    assert executors.start(setup).wait().success
    job = make_job(tmp_path, NodeType.SQL, "CREATE TABLE never AS SELECT 1 AS x")
    execution = executors.start(job)
    execution.kill("stopped by alice")
    assert execution.wait() == Outcome(False, None, "stopped by alice")
    assert warehouse_rows(executors, "SELECT table_name FROM duckdb_tables()") == [("t",)]


def test_sql_jobs_run_side_by_side_on_one_connection(tmp_path: Path, executors: Executors) -> None:
    slow = executors.start(make_job(tmp_path, NodeType.SQL, LONG_QUERY, node="slow"))
    thread, result = wait_in_thread(slow)
    quick = make_job(tmp_path, NodeType.SQL, "CREATE TABLE quick AS SELECT 42 AS x", node="quick")
    assert executors.start(quick).wait().success  # not queued behind the slow one
    assert thread.is_alive()
    slow.kill("stopped by alice")
    thread.join(timeout=5)
    assert result == [Outcome(False, None, "stopped by alice")]
    assert warehouse_rows(executors, "SELECT x FROM quick") == [(42,)]


def test_close_interrupts_running_sql(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.SQL, LONG_QUERY)
    thread, result = wait_in_thread(executors.start(job))
    assert eventually(lambda: "[1/1]" in log_of(job), 30)
    executors.close()
    thread.join(timeout=5)
    assert result == [Outcome(False, None, "the scheduler is shutting down")]
    after = executors.start(make_job(tmp_path, NodeType.SQL, "SELECT 1", node="late")).wait()
    assert after == Outcome(False, None, "the warehouse connection is closed")


def test_sql_reads_landing_files_by_relative_path(tmp_path: Path, executors: Executors) -> None:
    (tmp_path / "landing" / "drop").mkdir(parents=True)
    (tmp_path / "landing" / "drop" / "x.csv").write_text("id,name\n1,a\n2,b\n")
    sql = "CREATE TABLE x AS SELECT * FROM read_csv('drop/x.csv', header = true)"
    assert executors.start(make_job(tmp_path, NodeType.SQL, sql)).wait().success
    assert warehouse_rows(executors, "SELECT count(*) FROM x") == [(2,)]


# ------------------------------------------------------------------ quality


def test_quality_check_passes_when_no_row_comes_back(tmp_path: Path, executors: Executors) -> None:
    job = make_job(tmp_path, NodeType.QUALITY, "SELECT 1 AS bad WHERE false")
    assert executors.start(job).wait() == Outcome(True, None, "")
    assert "quality check passed" in log_of(job)


def test_quality_check_fails_on_one_row_and_shows_it(tmp_path: Path, executors: Executors) -> None:
    sql = "SELECT '20251031' AS bizdate, 312 AS orders, 640 AS avg_7d"
    job = make_job(tmp_path, NodeType.QUALITY, sql)
    assert executors.start(job).wait() == Outcome(
        False, None, "quality check failed: 1 violating row"
    )
    body = [line.removeprefix("08:15:42 ") for line in body_of(job)]
    at = body.index("bizdate  | orders | avg_7d")
    assert body[at + 2] == "20251031 | 312    | 640"


def test_quality_check_shows_at_most_50_violating_rows(
    tmp_path: Path, executors: Executors
) -> None:
    job = make_job(tmp_path, NodeType.QUALITY, "SELECT range AS order_id FROM range(60)")
    outcome = executors.start(job).wait()
    assert outcome.reason == "quality check failed: 60 violating rows"
    body = [line.removeprefix("08:15:42 ") for line in body_of(job)]
    at = body.index("order_id")
    shown = body[at + 2 : at + 2 + 51]
    assert shown[:50] == [str(n) for n in range(50)]
    assert shown[50] == "... and 10 more"


# --------------------------------------------------------------------- demo


def test_demo_orders_land_and_load_into_the_warehouse(tmp_path: Path, executors: Executors) -> None:
    generate = make_job(
        tmp_path,
        NodeType.PYTHON,
        (DEMO / "scripts" / "gen_orders.py").read_text(),
        {"block": "00", "bizdate": "20251031"},  # block=$[hh24] at 00:05, bizdate pre-filled
        node="ods_orders_hourly",
        cyctime=datetime(2025, 11, 1, 0, 5),
    )
    assert executors.start(generate).wait() == Outcome(True, 0, "")
    wrote = next(line for line in body_of(generate) if line.startswith("wrote "))
    orders = int(wrote.split()[1])
    assert orders > 100
    assert (tmp_path / "landing" / "orders" / "dt=20251031" / "block=00.csv").exists()

    values = {"bizdate": "20251031"}
    sql = substitute((DEMO / "sql" / "sales_raw.sql").read_text(), values, CYCTIME)
    load = make_job(tmp_path, NodeType.SQL, sql, values, node="sales_raw")
    assert executors.start(load).wait() == Outcome(True, None, "")
    assert f"{orders:,} rows affected" in log_of(load)
    assert warehouse_rows(
        executors, "SELECT count(*) FROM sales_raw WHERE bizdate = '20251031'"
    ) == [(orders,)]


def test_demo_products_snapshot_fails_first_on_flaky_days_then_succeeds(
    tmp_path: Path, executors: Executors
) -> None:
    script = (DEMO / "scripts" / "products_snapshot.sh").read_text()
    bizdate = "20251101"  # digit sum 12: the catalogue API "times out" on the first attempt
    assert sum(int(d) for d in bizdate) % 3 == 0
    runs = [
        make_job(
            tmp_path,
            NodeType.SHELL,
            script,
            {"bizdate": bizdate},
            node="ods_products_snapshot",
            attempt=attempt,
            bizdate=date(2025, 11, 1),
            cyctime=datetime(2025, 11, 2, 0, 15),
            triggered_by="scheduler" if attempt == 1 else "auto rerun 1/2",
        )
        for attempt in (1, 2)
    ]
    first = executors.start(runs[0]).wait()
    assert first == Outcome(
        False, 1, "exit code 1: ERROR: read timed out after 30s (catalogue API)"
    )
    snapshot = tmp_path / "landing" / "products" / f"dt={bizdate}.csv"
    assert not snapshot.exists()
    assert executors.start(runs[1]).wait() == Outcome(True, 0, "")
    assert len(snapshot.read_text().splitlines()) == 81
    assert f"wrote 80 products to {snapshot.resolve()}" in body_of(runs[1])


# ---------------------------------------------------------------- paged log


def test_read_page_reassembles_a_big_log_without_splitting_lines(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    lines = [f"{n:06d} {'é' * (n % 7)}{'x' * (n * 37 % 300)}\n" for n in range(30_000)]
    log.write_text("".join(lines), encoding="utf-8")
    assert log.stat().st_size > 3_000_000
    pages: list[str] = []
    offset = 0
    limit = 64 * 1024
    while True:
        text, offset = read_page(log, offset, limit)
        if not text:
            break
        assert text.endswith("\n")
        assert len(text.encode("utf-8")) <= limit
        pages.append(text)
    assert offset == log.stat().st_size
    assert "".join(pages) == "".join(lines)
    assert len(pages) > 40
    # pages start at line starts too: every page's first line is a whole original line
    starts = {line for line in lines}
    assert all(page.splitlines(keepends=True)[0] in starts for page in pages)


def test_read_page_holds_back_a_line_still_being_written(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    log.write_text("first\nsecond is being wri")
    assert read_page(log, 0, 1000) == ("first\n", 6)
    assert read_page(log, 6, 1000) == ("", 6)
    with log.open("a") as handle:
        handle.write("tten\n")
    assert read_page(log, 6, 1000) == ("second is being written\n", 30)


def test_read_page_returns_a_line_longer_than_the_page_whole(tmp_path: Path) -> None:
    log = tmp_path / "wide.log"
    log.write_text("y" * 5000 + "\nshort\n")
    text, offset = read_page(log, 0, 100)
    assert text == "y" * 5000 + "\n" and offset == 5001
    assert read_page(log, offset, 100) == ("short\n", 5007)
    assert read_page(tmp_path / "missing.log", 0, 100) == ("", 0)


def test_tail_offset_starts_following_at_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "tail.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 10_001)) + "partial")
    offset = tail_offset(log, 3)
    text, _ = read_page(log, offset, 1 << 20)
    assert text == "line 9998\nline 9999\nline 10000\n"
    assert tail_offset(log, 50_000) == 0
    assert tail_offset(log, 0) == log.stat().st_size - len("partial")
