"""`opscenter serve`: the console in a browser, as a process and over real HTTP on 127.0.0.1.

It answers on loopback unless told otherwise (and then warns), each browser connection gets
a console of its own that is read-only unless ``--allow-actions``, pages and websockets
that name another site are refused, and SIGTERM ends the server with its consoles. The
browser itself is in ``test_browser``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from aiohttp import ClientWebSocketResponse

from opscenter.scheduler.processes import OPERATOR_SECRETS
from tests.processes import alive, eventually, run_opscenter

T = TypeVar("T")

URL = re.compile(r"http://[^\s/]+:\d+/")


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:PORT/
    log: Path

    def said(self) -> str:
        return self.log.read_text(errors="replace")


def quiet_env(tmp_path: Path) -> dict[str, str]:
    """A state and config home of the test's own: never the user's demo."""
    return {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


@contextmanager
def serving(
    args: Sequence[str], tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`opscenter serve --port 0 ARGS` until it says where it answers; SIGTERM after."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "opscenter", "serve", "--port", "0", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or quiet_env(tmp_path),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while not (found := URL.search(said := log.read_text(errors="replace"))):
            assert process.poll() is None, f"serve ended:\n{said}"
            assert time.monotonic() < deadline, f"serve never said where:\n{said}"
            time.sleep(0.1)
        yield Served(process, found.group(0), log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def listening_address(port: int) -> str:
    """The address a socket listens on at ``port`` (from /proc/net/tcp, as ss reads it)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            return ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    raise AssertionError(f"nothing listens on port {port}")


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (its consoles), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


async def _screen_until(url: str, words: Sequence[bytes], seconds: float, origin: str) -> bytes:
    """What one browser connection's console draws, until it has drawn ``words``."""
    socket_url = url.replace("http://", "ws://") + "ws?width=120&height=40"
    seen = b""
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(socket_url, origin=origin) as socket,
    ):
        deadline = time.monotonic() + seconds
        while not all(word in seen for word in words) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                message = await socket.receive(timeout=1)
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
    return seen


def screen_until(url: str, words: Sequence[bytes], seconds: float = 60) -> bytes:
    return asyncio.run(_screen_until(url, words, seconds, origin=url.rstrip("/")))


def test_it_answers_on_loopback_by_default_and_serves_the_page(tmp_path: Path) -> None:
    with serving([], tmp_path) as served:
        assert served.url.startswith("http://127.0.0.1:")
        assert listening_address(port_of(served.url)) == "127.0.0.1"
        status, page = get(served.url)
        assert status == 200
        assert f"{served.url.replace('http', 'ws')}ws" in page
        assert "fonts.googleapis.com" not in page  # no asset from the internet
        assert "read-only" in served.said()
        # the world is deployed and scheduled here, once: the demo's clock runs
        assert "scheduler ● lead" in served.said()
    assert served.process.returncode == 0


def test_another_address_is_refused_without_expose(tmp_path: Path) -> None:
    done = run_opscenter("serve", "--host", "0.0.0.0", "--port", "0", env=quiet_env(tmp_path))
    assert done.returncode == 2
    assert "--expose" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was deployed


def test_expose_binds_elsewhere_and_warns_that_anyone_gets_the_console(tmp_path: Path) -> None:
    with serving(["--host", "0.0.0.0", "--expose", "--allow-actions"], tmp_path) as served:
        assert listening_address(port_of(served.url)) == "0.0.0.0"
        said = served.said()
        assert "anyone who reaches" in said
        assert "act" in said.split("anyone who reaches", 1)[1].splitlines()[0]


def test_browser_consoles_are_read_only_unless_allow_actions(tmp_path: Path) -> None:
    with serving([], tmp_path / "ro") as served:
        screen = screen_until(served.url, [b"Dash", b"bizdate"])
        assert b"READ-ONLY" in screen.split(b"bizdate")[0], screen[-2000:]
    with serving(["--allow-actions"], tmp_path / "rw") as served:
        screen = screen_until(served.url, [b"Dash", b"bizdate"])
        assert b"bizdate" in screen, screen[-2000:]
        assert b"READ-ONLY" not in screen.split(b"bizdate")[0]


def test_allow_actions_and_readonly_contradict_each_other(tmp_path: Path) -> None:
    done = run_opscenter("serve", "--readonly", "--allow-actions", env=quiet_env(tmp_path))
    assert done.returncode == 2
    assert "--allow-actions" in done.stderr and "Traceback" not in done.stderr


def test_another_site_cannot_drive_or_rebind_to_the_console(tmp_path: Path) -> None:
    """A page from elsewhere may open a websocket to 127.0.0.1 (browsers allow it), and a
    name rebound to 127.0.0.1 reaches the server too: both are refused."""
    with serving([], tmp_path) as served:
        port = port_of(served.url)
        status, _ = get(served.url, {"Host": f"evil.example:{port}"})
        assert status == 403
        assert get(served.url, {"Host": f"localhost:{port}"})[0] == 200

        async def from_elsewhere() -> int:
            async with aiohttp.ClientSession() as client:
                try:
                    async with client.ws_connect(
                        served.url.replace("http://", "ws://") + "ws",
                        origin="http://evil.example",
                    ):
                        return 101
                except aiohttp.WSServerHandshakeError as refused:
                    return refused.status

        assert asyncio.run(from_elsewhere()) == 403
        assert children(served.process.pid) == []  # no console was started for it


async def _with_a_console(url: str, then: Callable[[ClientWebSocketResponse], Awaitable[T]]) -> T:
    """``then`` the websocket of a browser connection, once its console drew the dashboard."""
    socket_url = url.replace("http://", "ws://") + "ws?width=100&height=30"
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(socket_url, origin=url.rstrip("/")) as ws,
    ):
        seen = b""
        while b"Dash" not in seen:
            message = await ws.receive(timeout=60)
            assert message.type == aiohttp.WSMsgType.BINARY, message
            seen += message.data
        return await then(ws)


def test_sigterm_ends_the_server_and_its_consoles(tmp_path: Path) -> None:
    with serving([], tmp_path) as served:

        async def stopped(ws: ClientWebSocketResponse) -> list[int]:
            consoles = children(served.process.pid)
            served.process.send_signal(signal.SIGTERM)
            while not ws.closed:  # the page hears its session end, as a browser does
                await ws.receive(timeout=30)
            await asyncio.to_thread(served.process.wait, 30)
            return consoles

        consoles = asyncio.run(_with_a_console(served.url, stopped))
        assert consoles, "no console process was started for the connection"
        assert served.process.returncode == 0
        ended = eventually(lambda: not any(alive(pid) for pid in consoles), 10)
        assert ended, "a console outlived its server"
        assert "scheduler stopped" in served.said()


def test_a_console_ends_with_its_server_even_after_kill_9(tmp_path: Path) -> None:
    """Killed outright, serve tells its consoles nothing: each would stay attached to the
    world, with no browser to see it, until someone found it."""
    with serving([], tmp_path) as served:

        async def killed(_ws: ClientWebSocketResponse) -> list[int]:
            consoles = children(served.process.pid)
            os.kill(served.process.pid, signal.SIGKILL)  # serve alone, not its group
            served.process.wait(timeout=10)
            return consoles

        consoles = asyncio.run(_with_a_console(served.url, killed))
    assert consoles, "no console process was started for the connection"
    try:
        ended = eventually(lambda: not any(alive(pid) for pid in consoles), 20)
        assert ended, "a console outlived its server's kill -9"
    finally:
        for pid in filter(alive, consoles):
            os.kill(pid, signal.SIGKILL)


def test_neither_serve_nor_its_consoles_hold_the_operators_secrets(tmp_path: Path) -> None:
    """serve runs nodes: like the scheduler it starts again without the operator's
    credentials, which a node could read in /proc/<pid>/environ; its consoles inherit that."""
    marker = f"secret-{time.monotonic_ns()}"
    env = quiet_env(tmp_path) | dict.fromkeys(OPERATOR_SECRETS, marker)
    with serving([], tmp_path, env) as served:

        async def environments(_ws: ClientWebSocketResponse) -> dict[int, bytes]:
            pids = [served.process.pid, *children(served.process.pid)]
            return {pid: Path(f"/proc/{pid}/environ").read_bytes() for pid in pids}

        seen = asyncio.run(_with_a_console(served.url, environments))
    assert len(seen) == 2, seen.keys()  # serve and one console
    assert all(marker.encode() not in environ for environ in seen.values())


def test_serve_needs_a_local_world(tmp_path: Path) -> None:
    done = run_opscenter("--backend", "dataworks", "serve", env=quiet_env(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("port", ["http", "70000"])
def test_a_bad_port_is_a_usage_error(tmp_path: Path, port: str) -> None:
    done = run_opscenter("serve", "--port", port, env=quiet_env(tmp_path))
    assert done.returncode == 2
    assert "port" in done.stderr
