"""Console benchmark: run as ``python bench/tui.py``; prints figures, then a table.

The real console (``OpsApp`` over a ``LocalBackend``, headless at 120x40 and 80x24) over a
store of 110,000 instances: 10,000 nodes, two schedule days, the first one run to SUCCESS by
the engine. Measured from a key press (or the app's start) to the first frame the
compositor paints with the answer in it: first paint of the Instances screen, a search
keystroke, page-down across keyset pages, end and home, and opening an instance whose log
is 100 MB. Then the console process's peak RSS.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import FIGURES, Figure, figure, print_table

LOAD_AT_START = os.getloadavg()[0]
DAY = date(2025, 12, 1)  # the first schedule date; its business date is the day before
NOW = datetime(2025, 12, 1, 23, 29, 59, tzinfo=UTC)  # after DAY's last cyctime, before 23:30
LOG_NODE = "bench_log"  # the one shell node: its attempt's log is made 100 MB
LOG_BYTES = 100 * 1024 * 1024
LOG_LAST_LINE = "bench: the last line of a 100 MB log"
# a search typed into `/`, one key at a time: narrowing to nothing, backspaces, a new turn.
# Node names are nLL_IIII (layer 00-39, index 0000-0249).
SEARCH_KEYS = ["0", "1", "2", "backspace", "9", "9", "9", "backspace", "backspace"]
SEARCH_KEYS += ["backspace", "backspace", "5"]
PAGE_DOWNS = 20
PAINT_RUNS = 3  # warm first paints per size and date filter (the median is shown)
TIMEOUT = 30.0  # seconds to wait for any one answer before giving up on it


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. VmHWM rather than ru_maxrss in the
    build child: a child inherits its parent's peak in ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


# -- the store: built in a child process, so the console's RSS is its own ---------------------


def build_child(folder: str) -> dict:
    """10,000 virtual nodes and one shell node; two days generated, the first one run by the
    engine; then the shell node's log grown to 100 MB."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _workspaces import random_dag
    from sqlalchemy import func, select

    from opscenter.backends.local import LocalBackend
    from opscenter.domain.clock import ManualClock
    from opscenter.domain.records import InstanceFilter
    from opscenter.project.loader import load_workspace
    from opscenter.scheduler.engine import Engine
    from opscenter.scheduler.generate import generate_day
    from opscenter.store.db import open_store
    from opscenter.store.deploy import deploy
    from opscenter.store.models import InstanceRow

    root = Path(folder)
    shell = (
        f'  - {{name: {LOG_NODE}, type: shell, trigger: {{cron: "00 00 00 * * ?"}},'
        " resource_group: bench, code: 'echo started'}\n"
    )
    (root / "workspace.yaml").write_text(random_dag() + shell, encoding="utf-8")
    url = f"sqlite:///{root / 'state.db'}"
    times: dict[str, float] = {}
    start = time.perf_counter()
    workspace = load_workspace(root)
    db = open_store(url)
    deployed_at = datetime.combine(DAY - timedelta(days=2), datetime.min.time())
    report = deploy(db, workspace, root, data_dir=root / "data", now=deployed_at, user="bench")
    times["deploy_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for day in (DAY, DAY + timedelta(days=1)):
        generate_day(db, report.workspace_id, day, now=datetime.combine(day, datetime.min.time()))
    times["generate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    engine = Engine(db, report.workspace_id, ManualClock(NOW, speed=1e6))
    engine.start()
    engine.run_until_idle(limit=600)
    engine.close()
    times["engine_s"] = time.perf_counter() - start
    with db.connect() as conn:
        counts = dict(
            conn.execute(
                select(InstanceRow.status, func.count()).group_by(InstanceRow.status)
            ).all()
        )
    backend = LocalBackend(db, workspace.name, ManualClock(NOW), user="bench")
    bizdate = DAY - timedelta(days=1)
    (instance,) = backend.list_instances(InstanceFilter(bizdate=bizdate, node=LOG_NODE)).items
    (attempt,) = backend.attempts(instance.id)
    start = time.perf_counter()
    grow_log(Path(attempt.log_path))
    times["log_s"] = time.perf_counter() - start
    db.dispose()
    return {
        "url": url,
        "workspace": workspace.name,
        "instances": sum(counts.values()),
        "statuses": counts,
        "bizdate": bizdate.isoformat(),
        "log_instance": instance.id,
        "log_path": attempt.log_path,
        **times,
    }


def grow_log(path: Path) -> None:
    """Append a job's chatter to the attempt's real log until it is 100 MB: about a
    million lines, one ERROR line at 60% (for "jump to the first error"), and a known last
    line to look for on the screen."""
    lines_per_chunk = 10_000
    with path.open("a", encoding="utf-8") as out:
        batch = 0
        while path.stat().st_size < LOG_BYTES - 200:
            chunk = []
            for _ in range(lines_per_chunk):
                batch += 1
                clock = f"{batch // 3600 % 24:02d}:{batch // 60 % 60:02d}:{batch % 60:02d}"
                if batch == 600_000:
                    chunk.append(f"{clock} ERROR batch {batch:07d}: upstream file truncated\n")
                chunk.append(
                    f"{clock} INFO  batch {batch:07d}: read 1000 rows from ods_orders"
                    " dt=20251130, wrote 998, rejected 2\n"
                )
            out.write("".join(chunk))
            out.flush()
        out.write(LOG_LAST_LINE + "\n")


def build(tmp: Path) -> dict:
    command = [sys.executable, __file__, "--child", str(tmp)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"building the store failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


# -- the console, instrumented at the paint ----------------------------------------------------


def bench_app_class() -> type:
    """OpsApp that notes when the compositor hands a frame to the terminal (headless: the
    frame is computed, then not written) and whether the state being waited for is in it."""
    from opscenter.tui import app as console

    class BenchApp(console.OpsApp):
        CSS_PATH = str(Path(console.__file__).with_name(console.OpsApp.CSS_PATH))

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.first_frame: float | None = None
            self.probe: Callable[[], bool] | None = None
            self.painted: float | None = None

        def expect(self, probe: Callable[[], bool]) -> None:
            """Wait for the first frame painted while ``probe()`` holds."""
            self.probe, self.painted = probe, None

        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is None or self._batch_count:
                return
            now = time.perf_counter()
            if self.first_frame is None:
                self.first_frame = now
            if self.painted is None and self.probe is not None and self.probe():
                self.painted = now

    return BenchApp


async def painted(app: Any, started: float, what: str) -> float:
    """Seconds from ``started`` to the frame that showed what ``app.expect`` waits for."""
    deadline = time.perf_counter() + TIMEOUT
    while app.painted is None:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not painted within {TIMEOUT:g} s")
        await asyncio.sleep(0.002)
    return app.painted - started


def instances_table(app: Any) -> Any:
    from opscenter.tui.screens.instances import InstancesScreen

    screen = app.screen
    return screen.table if isinstance(screen, InstancesScreen) and screen.is_mounted else None


def nodes_table(app: Any) -> Any:
    from opscenter.tui.screens.nodes import NodesScreen

    screen = app.screen
    return screen.table if isinstance(screen, NodesScreen) and screen.is_mounted else None


def first_page_shown(app: Any) -> bool:
    table = instances_table(app)
    return table is not None and table.loaded and bool(table.rows) and not table.busy


def make_app(store: dict, bizdate: date | None, start: str = "instances") -> Any:
    from opscenter.backends.local import LocalBackend
    from opscenter.domain.clock import ManualClock
    from opscenter.store.db import open_store

    db = open_store(store["url"])
    backend = LocalBackend(db, store["workspace"], ManualClock(NOW), user="bench", source="tui")
    app = bench_app_class()(backend, start=start)
    app.bizdate, app.bizdate_chosen = bizdate, True  # chosen: it must not follow the clock
    return app


async def first_paint(
    store: dict, size: tuple[int, int], bizdate: date | None, started: float | None = None
) -> tuple:
    """(first frame, first page) seconds from making the app (or ``started``) to the frames
    that show them."""
    started = time.perf_counter() if started is None else started
    app = make_app(store, bizdate)
    app.expect(lambda: first_page_shown(app))
    async with app.run_test(size=size):
        seconds = await painted(app, started, "first page")
        chrome = app.first_frame - started
    app.backend.db.dispose()
    return chrome, seconds


def bizdate_label(bizdate: date | None) -> str:
    return f"bizdate {bizdate.isoformat()}" if bizdate else "bizdate any"


# A first paint's goal: the "a console that opens in a second", on the AMD kind where
# python -c pass takes 16 ms.
PAINT_GOAL = 60  # x python -c pass (1 s / 16 ms)


def paint_figure(name: str, seconds: float, detail: str = "") -> None:
    import floors

    floor = floors.floors().python
    figure(
        name,
        floors.ratio_figure_text(seconds, floor, "python -c pass") + detail,
        f"< {PAINT_GOAL}x python -c pass (1 s at 16 ms)",
        seconds / floor < PAINT_GOAL,
    )


def statuses_shown(app: Any) -> bool:
    """The dashboard's counts panel titled with its date and total: the statuses are in."""
    from opscenter.tui.screens.dashboard import DashboardScreen

    screen = app.screen
    if not isinstance(screen, DashboardScreen) or not screen.is_mounted:
        return False
    return "·" in str(screen.query_one("#counts").border_title or "")


async def dashboard_paint(store: dict, size: tuple[int, int]) -> float:
    """Seconds from making the app to the frame that shows the business date's statuses."""
    started = time.perf_counter()
    app = make_app(store, date.fromisoformat(store["bizdate"]), start="dashboard")
    app.expect(lambda: statuses_shown(app))
    async with app.run_test(size=size):
        seconds = await painted(app, started, "the dashboard's statuses")
    app.backend.db.dispose()
    return seconds


def bench_paint(store: dict, single: date) -> None:
    print(f"1. first paint of the Instances screen (load1 now {os.getloadavg()[0]:.2f})")
    started = time.perf_counter()
    import opscenter.tui.app  # noqa: F401 - what a start pays before its first frame

    imported = time.perf_counter() - started
    chrome, seconds = asyncio.run(first_paint(store, (120, 40), None, started))
    paint_figure(
        "first paint, 120x40, bizdate any, first in the process",
        seconds,
        f" (import of the console {ms(imported)}; chrome with 'loading…' at {ms(chrome)})",
    )
    for size in ((120, 40), (80, 24)):
        for bizdate in (None, single):
            runs = [asyncio.run(first_paint(store, size, bizdate))[1] for _ in range(PAINT_RUNS)]
            paint_figure(
                f"first paint, {size[0]}x{size[1]}, {bizdate_label(bizdate)}",
                statistics.median(runs),
                f", median of {PAINT_RUNS}",
            )
    runs = [asyncio.run(dashboard_paint(store, (80, 24))) for _ in range(PAINT_RUNS)]
    paint_figure(
        f"Dashboard: the statuses of {store['bizdate']} shown, 80x24, from making the app",
        statistics.median(runs),
        f", median of {PAINT_RUNS} (the console's start from the command: bench/cli.py)",
    )


def backend_page_seconds(store: dict, bizdate: date | None, text: str = "") -> tuple:
    """The first page's query alone (what the table's worker waits for): seconds, total,
    first id."""
    from opscenter.backends.local import LocalBackend
    from opscenter.domain.clock import ManualClock
    from opscenter.domain.records import InstanceFilter
    from opscenter.store.db import open_store

    db = open_store(store["url"])
    backend = LocalBackend(db, store["workspace"], ManualClock(NOW), user="bench")
    flt = InstanceFilter(bizdate=bizdate, text=text, limit=200)
    backend.list_instances(flt)  # warm the connection and the page cache
    start = time.perf_counter()
    page = backend.list_instances(flt)
    seconds = time.perf_counter() - start
    db.dispose()
    return seconds, page.total, page.items[0].id if page.items else None


# -- search ---------------------------------------------------------------------------------


def typed(keys: list[str]) -> list[str]:
    """The search box's text after each key."""
    text, texts = "", []
    for key in keys:
        text = text[:-1] if key == "backspace" else text + key
        texts.append(text)
    return texts


async def search(store: dict, bizdate: date | None, expected: list[tuple]) -> list[float]:
    """Seconds from each key press to the frame that shows its filtered first page."""
    app = make_app(store, bizdate)
    app.expect(lambda: first_page_shown(app))
    times = []
    async with app.run_test(size=(120, 40)) as pilot:
        await painted(app, time.perf_counter(), "first page")
        await pilot.press("slash")
        for key, text, (total, first_id) in zip(
            SEARCH_KEYS, typed(SEARCH_KEYS), expected, strict=True
        ):

            def answered(text: str = text, total: int = total, first_id: int | None = first_id):
                table = instances_table(app)
                if table is None or table.busy or table.source.flt.text != text:
                    return False
                shown = table.rows[0].id if table.rows else None
                return table.loaded and table.total == total and shown == first_id

            app.expect(answered)
            started = time.perf_counter()
            await pilot.press(key)
            times.append(await painted(app, started, f"search {text!r}"))
    app.backend.db.dispose()
    return times


def bench_search(store: dict, single: date) -> None:
    print(f"2. search keystroke to repaint (load1 now {os.getloadavg()[0]:.2f})")
    texts = typed(SEARCH_KEYS)
    print(f"  keys: {' '.join(SEARCH_KEYS)} -> {' '.join(repr(t) for t in texts)}")
    for bizdate in (None, single):
        answers = [backend_page_seconds(store, bizdate, text) for text in texts]
        expected = [(total, first) for _, total, first in answers]
        for before, after, text in zip(expected, expected[1:], texts[1:], strict=False):
            # a key whose first page equals the last one's could not be told apart
            assert before != after, f"{text!r} shows what the text before it showed"
        times = asyncio.run(search(store, bizdate, expected))
        print(
            "  per key (painted / query): "
            + ", ".join(
                f"{text!r} {ms(shown)} / {ms(query)}"
                for text, shown, (query, _, _) in zip(texts, times, answers, strict=True)
            )
        )
        import floors

        median, high = statistics.median(times), p90(times)
        floor = floors.floors().python
        figure(
            f"search keystroke to repaint, {bizdate_label(bizdate)}: median / p90",
            f"{ms(median)} / {floors.ratio_figure_text(high, floor, 'python -c pass')}"
            f" (n={len(times)}, worst {ms(max(times))})",
            "p90 < 6x python -c pass (100 ms at 16 ms)",
            high / floor < 6,
        )
        query = [seconds for seconds, _, _ in answers]
        figure(
            "  of which the backend's page query: median / max (informational)",
            f"{ms(statistics.median(query))} / {ms(max(query))}"
            f" (totals {', '.join(f'{total:,}' for _, total, _ in answers)})",
        )


# -- paging ---------------------------------------------------------------------------------


async def paging(store: dict, bizdate: date | None, start: str = "instances") -> dict:
    """The screen's first paint, then page-down PAGE_DOWNS times, then end/home three times:
    seconds per key until the moved cursor is painted and no page fetch is under way (the
    rows are there)."""
    began = time.perf_counter()
    app = make_app(store, bizdate, start=start)
    table_of = nodes_table if start == "nodes" else instances_table

    def shown() -> bool:
        table = table_of(app)
        return table is not None and table.loaded and bool(table.rows) and not table.busy

    app.expect(shown)
    result: dict = {"down": [], "clamped": 0, "end": [], "home": []}
    async with app.run_test(size=(120, 40)) as pilot:
        result["paint"] = await painted(app, began, "first page")
        table = table_of(app)
        visible = table.size.height - 1
        for _ in range(PAGE_DOWNS):
            before = table.position
            app.expect(lambda before=before: table.position != before and not table.busy)
            started = time.perf_counter()
            await pilot.press("pagedown")
            result["down"].append(await painted(app, started, "page-down"))
            if table.position < min(before + visible, table.total):
                result["clamped"] += 1  # the cursor hit the window's end before the page came
        result["window"] = (table.first + 1, table.first + len(table.rows), table.total)
        for _ in range(3):
            for key, name in (("G", "end"), ("g", "home")):
                want = table.total if key == "G" else 1
                app.expect(lambda want=want: table.position == want and not table.busy)
                started = time.perf_counter()
                await pilot.press(key)
                result[name].append(await painted(app, started, name))
    app.backend.db.dispose()
    return result


def bench_paging(store: dict, single: date) -> None:
    print(f"3. page-down, end, home (load1 now {os.getloadavg()[0]:.2f})")
    for bizdate in (None, single):
        got = asyncio.run(paging(store, bizdate))
        down = got["down"]
        first, last, total = got["window"]
        figure(
            f"page-down x{PAGE_DOWNS}, {bizdate_label(bizdate)}: median / p90 per key",
            f"{ms(statistics.median(down))} / {ms(p90(down))} (worst {ms(max(down))};"
            f" window then rows {first:,}-{last:,} of {total:,}; {got['clamped']} clamped)",
        )
        figure(
            f"G (end: the tail query) / g (home), {bizdate_label(bizdate)}: median of 3",
            f"{ms(statistics.median(got['end']))} / {ms(statistics.median(got['home']))}",
        )


# -- the node list --------------------------------------------------------------------------


# The goals for the Nodes screen, set on the AMD kind where python -c pass takes 16 ms:
# first paint under 300 ms, page-down p90 under 100 ms.
NODES_PAINT_GOAL = 19  # x python -c pass (300 ms / 16 ms)
NODES_PAGE_GOAL = 6  # x python -c pass (100 ms / 16 ms)


def bench_nodes(store: dict) -> None:
    print(f"4. the Nodes screen over every node (load1 now {os.getloadavg()[0]:.2f})")
    import floors

    floor = floors.floors().python
    got = asyncio.run(paging(store, None, start="nodes"))
    figure(
        f"Nodes: first paint over {got['window'][2]:,} nodes, 120x40",
        floors.ratio_figure_text(got["paint"], floor, "python -c pass"),
        f"< {NODES_PAINT_GOAL}x python -c pass (300 ms at 16 ms)",
        got["paint"] / floor < NODES_PAINT_GOAL,
    )
    down = got["down"]
    first, last, total = got["window"]
    figure(
        f"Nodes: page-down x{PAGE_DOWNS}, p90 per key",
        f"{floors.ratio_figure_text(p90(down), floor, 'python -c pass')} (median"
        f" {ms(statistics.median(down))}, worst {ms(max(down))}; window then rows"
        f" {first:,}-{last:,} of {total:,}; {got['clamped']} clamped)",
        f"< {NODES_PAGE_GOAL}x python -c pass (100 ms at 16 ms)",
        p90(down) / floor < NODES_PAGE_GOAL,
    )
    figure(
        "Nodes: G (end) / g (home), median of 3",
        f"{ms(statistics.median(got['end']))} / {ms(statistics.median(got['home']))}",
    )


# -- the log --------------------------------------------------------------------------------


def log_view(app: Any) -> Any:
    from opscenter.tui.screens.instance import InstanceScreen

    screen = app.screen
    return screen.log_view if isinstance(screen, InstanceScreen) and screen.is_mounted else None


def at_last_line(app: Any) -> bool:
    view = log_view(app)
    return (
        view is not None
        and bool(view.lines)
        and view.lines[-1].text == LOG_LAST_LINE
        and view.cursor == len(view.lines) - 1
    )


def on_error_line(app: Any) -> bool:
    view = log_view(app)
    return view is not None and view.current is not None and "ERROR" in view.current.text


async def open_log(store: dict) -> dict:
    """From the Instances screen: open the instance (three times, back with esc between)
    until its log shows the last line; then e (the first error, 60 MB in)."""
    app = make_app(store, date.fromisoformat(store["bizdate"]))
    app.expect(lambda: first_page_shown(app))
    result: dict = {"open": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await painted(app, time.perf_counter(), "first page")
        for _ in range(3):
            app.expect(lambda: at_last_line(app))
            started = time.perf_counter()
            app.open_instance(store["log_instance"])
            result["open"].append(await painted(app, started, "the log's last line"))
            await pilot.press("escape")
        app.expect(lambda: at_last_line(app))
        app.open_instance(store["log_instance"])
        await painted(app, time.perf_counter(), "the log's last line")
        app.expect(lambda: on_error_line(app))
        started = time.perf_counter()
        await pilot.press("e")
        result["error"] = await painted(app, started, "the first error")
    app.backend.db.dispose()
    return result


# The goals, set on the AMD kind where python -c pass takes 16 ms: 300 ms to open an
# instance at the last line of its 100 MB log, 300 ms for e to its first error 60 MB in.
LOG_GOAL = 19  # x python -c pass (300 ms / 16 ms)


def bench_log(store: dict) -> None:
    print(f"4. opening an instance with a 100 MB log (load1 now {os.getloadavg()[0]:.2f})")
    import floors

    from opscenter.backends.local import LocalBackend
    from opscenter.domain.clock import ManualClock
    from opscenter.store.db import open_store

    floor = floors.floors().python
    goal = f"< {LOG_GOAL}x python -c pass (300 ms at 16 ms)"
    size = Path(store["log_path"]).stat().st_size
    got = asyncio.run(open_log(store))
    first, runs = got["open"][0], got["open"]
    opened = statistics.median(runs)
    figure(
        "open the instance until its 100 MB log shows its last line",
        f"{floors.ratio_figure_text(opened, floor, 'python -c pass')}, median of {len(runs)}"
        f" (first {ms(first)}, worst {ms(max(runs))}; {size:,} bytes)",
        goal,
        opened / floor < LOG_GOAL,
    )
    db = open_store(store["url"])
    backend = LocalBackend(db, store["workspace"], ManualClock(NOW), user="bench")
    start = time.perf_counter()
    backend.read_log(store["log_instance"], None, size - 65536, 65536)
    figure("  of which read_log of the last 64 KB (informational)", ms(time.perf_counter() - start))
    db.dispose()
    figure(
        "e: jump to the first error, 60 MB in (the log's error index built by this e)",
        floors.ratio_figure_text(got["error"], floor, "python -c pass"),
        goal,
        got["error"] / floor < LOG_GOAL,
    )


# -- the table ------------------------------------------------------------------------------


PARTS = ("paint", "search", "page", "nodes", "log")


def run(parts: Sequence[str] = PARTS) -> list[Figure]:
    """Measure the named parts (printing each figure as it comes); their figures."""
    print(f"1-minute load average at start: {LOAD_AT_START:.2f} on {os.cpu_count()} cores")
    if LOAD_AT_START > 1.5:
        print("  warning: the machine is busy; figures will be noisy")
    with tempfile.TemporaryDirectory(prefix="opscenter-bench-") as tmp:
        print("0. the store (in a child process)", flush=True)
        started = time.perf_counter()
        store = build(Path(tmp))
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(store["statuses"].items()))
        figure(
            "build the store (informational)",
            f"{time.perf_counter() - started:.1f} s: {store['instances']:,} instances ({statuses})",
        )
        figure(
            "  deploy 10k nodes / generate 2 days / engine runs day 1 / 100 MB log",
            f"{store['deploy_s']:.1f} / {store['generate_s']:.1f} / {store['engine_s']:.1f}"
            f" / {store['log_s']:.1f} s; peak RSS of that process {store['rss_mb']:.0f} MB",
        )
        single = date.fromisoformat(store["bizdate"])
        for bizdate in (None, single):
            seconds, total, _ = backend_page_seconds(store, bizdate)
            figure(
                f"the first page's query alone, {bizdate_label(bizdate)} (informational)",
                f"{ms(seconds)} ({total:,} instances match)",
            )
        figure(
            "RSS of the console process before the UI (informational)",
            f"{memory_mb('VmRSS'):.0f} MB",
        )
        if "paint" in parts:
            bench_paint(store, single)
        if "search" in parts:
            bench_search(store, single)
        if "page" in parts:
            bench_paging(store, single)
        if "nodes" in parts:
            bench_nodes(store)
        figure(
            "peak RSS after the Instances screen runs (informational)",
            f"{memory_mb('VmHWM'):.0f} MB",
        )
        if "log" in parts:
            bench_log(store)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figure(
            "peak RSS of the console process (ru_maxrss)", f"{peak:.0f} MB", "< 300 MB", peak < 300
        )
    return FIGURES


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(build_child(sys.argv[2]) | {"rss_mb": memory_mb("VmHWM")}))
        return
    run(sys.argv[1:] or PARTS)  # or name the parts to run
    print_table(LOAD_AT_START)


if __name__ == "__main__":
    main()
