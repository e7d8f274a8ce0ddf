"""A simulated morning of the demo on a slow day: exec_dashboard goes SAFE -> WARNING -> OVER.

2026-11-27 is a business date on which the demo's slow node (dws_user_activity) takes
close to two hours instead of twenty minutes. The scheduler runs on a simulated clock
(600x) from 06:30 Shanghai time; the baseline alert rules post to a webhook served on
127.0.0.1 by the test.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import SimulatedClock
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from tests.conftest import deploy_folder

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
BIZDATE = date(2026, 11, 27)
START = datetime(2026, 11, 28, 6, 30, tzinfo=SHANGHAI)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args) -> None:  # keep the test output quiet
        pass


def local(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI).replace(tzinfo=None)


def test_the_slow_node_takes_the_dashboard_baseline_from_safe_to_warning_to_over(tmp_path):
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    folder = shutil.copytree(demo_workspace(), tmp_path / "demo")
    yaml = (folder / "workspace.yaml").read_text()
    for rule in ("dashboard_at_risk", "dashboard_late"):
        yaml = yaml.replace(f"  - name: {rule}\n", f"  - name: {rule}\n    webhook: {url}\n")
    (folder / "workspace.yaml").write_text(yaml)

    db = open_store(f"sqlite:///{tmp_path / 'state' / 'state.db'}")
    report = deploy_folder(db, folder, now=START.astimezone(UTC).replace(tzinfo=None))
    clock = SimulatedClock(START, speed=600)
    engine = Engine(db, report.workspace_id, clock)
    backend = LocalBackend(db, "shop", clock, user="tester")
    seen: list[tuple[datetime, str]] = []  # (simulated local time, status) as it changes
    stop = threading.Event()
    engine.start()
    serving = threading.Thread(target=engine.serve, args=(stop,))
    serving.start()
    try:
        deadline = time.monotonic() + 120
        # stop at 09:20: past OVER (09:00), before its first re-send would be due (09:30)
        while clock.now() < START + timedelta(hours=2, minutes=50) and time.monotonic() < deadline:
            found = [b for b in backend.list_baselines(BIZDATE) if b.name == "exec_dashboard"]
            if found and (not seen or seen[-1][1] != found[0].status):
                seen.append(
                    (clock.now().astimezone(SHANGHAI).replace(tzinfo=None), found[0].status)
                )
            time.sleep(0.1)
    finally:
        stop.set()
        serving.join()
        engine.close()
        server.shutdown()

    statuses = [status for _, status in seen]
    assert statuses[:1] == ["SAFE"], seen
    assert "WARNING" in statuses and statuses[-1] == "OVER", seen
    assert statuses.index("WARNING") < statuses.index("OVER")

    recorded = backend.list_alerts()
    assert sorted(a.rule for a in recorded) == ["dashboard_at_risk", "dashboard_late"]  # once each
    alerts = {a.rule: a for a in recorded}
    warning, over = alerts["dashboard_at_risk"], alerts["dashboard_late"]
    # WARNING once the prediction passes the alert time (08:30); OVER when 09:00 passes unfinished
    assert datetime(2026, 11, 28, 8, 0) <= local(warning.first_at) < datetime(2026, 11, 28, 8, 40)
    assert datetime(2026, 11, 28, 9, 0) <= local(over.first_at) <= datetime(2026, 11, 28, 9, 5)
    # the warning held for more than 30 minutes, so it was sent again once, 30 minutes later
    assert warning.sent_count == 2
    assert warning.last_sent_at - warning.first_at >= timedelta(minutes=30)
    assert warning.resolved_at is not None  # it ended when the baseline went OVER
    assert over.sent_count == 1

    posted = sorted((p["rule"], p["trigger"], p["send"]) for p in _Hook.received)
    assert posted == [
        ("dashboard_at_risk", "BaselineWarning", 1),
        ("dashboard_at_risk", "BaselineWarning", 2),
        ("dashboard_late", "BaselineOver", 1),
    ]
    assert all(p["workspace"] == "shop" for p in _Hook.received)

    slow = [e for e in backend.list_events() if e.kind == "SLOW"]
    assert [e.node for e in slow] == ["dws_user_activity"]
