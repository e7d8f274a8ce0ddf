"""The console in a real browser: `opscenter serve` on 127.0.0.1, opened in headless Chromium
(Debian's, driven by Playwright; never a downloaded browser).

The page draws the terminal with xterm.js on a canvas, so its text is read from xterm's
own buffer (what it draws): the test's copy of textual.js hands the terminal to the page
as it opens. Skipped where Chromium or Playwright is missing, unless
OPSCENTER_REQUIRE_BROWSER=1 (CI), which makes that a failure. OPSCENTER_SCREENSHOTS=DIR
keeps a PNG of each screen the tests saw.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opscenter.store.audit import os_user
from tests.processes import run_opscenter
from tests.test_serve import Served, quiet_env, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPENED = "this.terminal.open(e)"  # where textual.js opens its xterm.js terminal
TERMINAL_TEXT = """() => {
    const terminal = window.opscenterTerminal;
    if (!terminal) return "";
    const buffer = terminal.buffer.active, lines = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
    return lines.join("\\n");
}"""
SCREENSHOTS = os.environ.get("OPSCENTER_SCREENSHOTS")  # a folder: keep what the tabs showed


def _playwright() -> Any:
    """Playwright's sync API, or a skip (a failure where the browser test is required)."""
    required = os.environ.get("OPSCENTER_REQUIRE_BROWSER") == "1"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install 'opscenter[test]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if missing is not None:
        if required:
            pytest.fail(f"OPSCENTER_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with _playwright()() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo, served read-only, in a state and config home of the module's own."""
    home = tmp_path_factory.mktemp("serve")
    with serving([], home, quiet_env(home)) as running:
        yield running


class Console:
    """One browser tab on the served console: what its terminal shows, and keys."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.route("**/static/js/textual.js", self._hand_over_the_terminal)
        page.goto(url)

    @staticmethod
    def _hand_over_the_terminal(route: Any) -> None:
        script = route.fetch().text()
        assert OPENED in script, "textual.js no longer opens its terminal as this test expects"
        patched = script.replace(OPENED, f"{OPENED},window.opscenterTerminal=this.terminal", 1)
        route.fulfill(body=patched, content_type="application/javascript")

    def text(self) -> str:
        return str(self.page.evaluate(TERMINAL_TEXT))

    def wait_for(self, *words: str, seconds: float = 45) -> str:
        """Until the terminal shows every one of ``words``; fails after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not all(word in (shown := self.text()) for word in words):
            assert time.monotonic() < deadline, f"never showed {words}:\n{shown}"
            time.sleep(0.2)
        return shown

    def press(self, key: str) -> None:
        self.page.locator(".xterm-helper-textarea").press(key)

    def screenshot(self, name: str) -> None:
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


@pytest.fixture
def console(browser: Any, served: Served) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield Console(context.new_page(), served.url)
    finally:
        context.close()


def test_the_dashboard_shows_in_the_browser_and_2_opens_the_nodes(
    console: Console, served: Served
) -> None:
    dashboard = console.wait_for("[1 Dash]", "Instances", "Baselines", "shop")
    assert "READ-ONLY" in dashboard  # served without --allow-actions
    assert "sched ● attached to" in dashboard  # the tab runs no scheduler: serve's leads
    console.screenshot("dashboard")
    console.press("2")
    nodes = console.wait_for("[2 Nodes]", "ods_orders_hourly")
    assert "[1 Dash]" not in nodes
    console.screenshot("nodes")
    host = served.url.removesuffix("/")
    # offline: the page and all it loads come from the server, no CDN
    assert console.requests and all(url.startswith(host) for url in console.requests), (
        console.requests
    )


def test_a_read_only_browser_console_refuses_an_action_and_audits_it(
    console: Console, served: Served
) -> None:
    console.wait_for("[1 Dash]")
    console.press("2")
    console.wait_for("[2 Nodes]", "ods_orders_hourly")
    console.press("f")  # freeze the node under the cursor
    refused = console.wait_for("is not available", "read-only")
    assert "Freeze node is not available" in refused
    console.screenshot("refused")
    audit = run_opscenter("audit", "--json", env=quiet_env(served.log.parent))
    assert audit.returncode == 0, audit.stderr
    refusals = [e for e in json.loads(audit.stdout) if e["outcome"] == "refused"]
    assert [(e["action"], e["user"], e["source"]) for e in refusals] == [
        ("freeze node", os_user(), "web")
    ]


def test_with_allow_actions_a_browser_console_acts_audited_from_the_web(
    browser: Any, tmp_path: Path
) -> None:
    env = quiet_env(tmp_path)
    with serving(["--allow-actions"], tmp_path, env) as served:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            console = Console(context.new_page(), served.url)
            dashboard = console.wait_for("[1 Dash]", "bizdate")
            assert "READ-ONLY" not in dashboard
            console.press("2")
            console.wait_for("[2 Nodes]", "adhoc_export_orders")
            console.press("f")  # freeze the node under the cursor: confirmed first
            console.wait_for("confirm")
            console.press("y")
            deadline = time.monotonic() + 30
            while not (acted := _audited(env, "freeze node")):
                assert time.monotonic() < deadline, "the freeze was never audited"
                time.sleep(0.2)
        finally:
            context.close()
    assert [(e["user"], e["source"], e["outcome"]) for e in acted] == [(os_user(), "web", "ok")]


def _audited(env: dict[str, str], action: str) -> list[dict[str, Any]]:
    audit = run_opscenter("audit", "--json", env=env)
    assert audit.returncode == 0, audit.stderr
    return [e for e in json.loads(audit.stdout) if e["action"] == action]
