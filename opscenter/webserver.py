"""The web side of ``opscenter serve``: textual-serve's server, kept to its own site and offline.

textual-serve starts one console process per browser connection (its websocket) and relays
the terminal to xterm.js in the page. Three things are added here. Browsers let any page
open a websocket to 127.0.0.1, and a name an attacker rebinds to 127.0.0.1 reaches it too:
a websocket whose Origin is not the server's own site is refused, and a loopback server
answers only to loopback names. The page names its scripts and websocket by the address
the browser used (textual-serve's fixed public URL would send a browser reaching an
exposed server as ``0.0.0.0`` nowhere). And its template takes a font from Google's CDN,
a render-blocking stylesheet on a machine without internet: the font textual-serve ships
is served instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})
_CDN_FONT = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*>", re.DOTALL)
_LOCAL_FONT = """<style>
      @font-face {
        font-family: "Roboto Mono";
        font-style: normal;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf");
      }
      @font-face {
        font-family: "Roboto Mono";
        font-style: italic;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf");
      }
    </style>"""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """``host`` (a name or an address, IPv6 in brackets or not) is this machine only."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound before anything is deployed or scheduled: a port in use is said at once, and
    port 0 gets a free one whose number is then known."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


class _OfflineTemplates(jinja2.FileSystemLoader):
    """textual-serve's own page, its CDN font replaced by the copy it ships."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return _CDN_FONT.sub(_LOCAL_FONT, source), filename, uptodate


class ConsoleServer(Server):
    """One console process per browser connection, started by ``command``."""

    def __init__(self, command: str, sock: socket.socket, title: str) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(command, host=host, port=port, title=title)
        self.sock = sock
        self.loopback_only = is_loopback(host)
        self.connections: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        aiohttp_jinja2.setup(app, loader=_OfflineTemplates(Path(self.templates_path)))
        app.middlewares.append(self._guard)
        app.on_shutdown.append(self._end_connections)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Loopback names only on a loopback server (DNS rebinding); a websocket only from
        a page of this very site (another site's page may open one to 127.0.0.1)."""
        host = urlsplit(f"//{request.host}").hostname or ""
        if self.loopback_only and not is_loopback(host):
            raise web.HTTPForbidden(text=f"this console answers on loopback only, not {host!r}\n")
        if request.path == "/ws":
            origin = urlsplit(request.headers.get("Origin", ""))
            if origin.netloc.lower() != request.host.lower():
                raise web.HTTPForbidden(text="a console is opened from its own page only\n")
        return await handler(request)

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, naming its scripts and websocket by the address this browser used."""
        self.public_url = f"http://{request.host}"  # read at once, before any other request
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's, its task remembered: shutting down cancels it, which tells its
        console to quit as a closed tab would, instead of waiting for the browser."""
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            response: web.WebSocketResponse = await super().handle_websocket(request)
        finally:
            self.connections.discard(task)
        return response

    async def _end_connections(self, _app: web.Application) -> None:
        for task in list(self.connections):
            task.cancel()

    async def on_startup(self, _app: web.Application) -> None:
        """Quiet: ``serve`` says where it answers, textual-serve's banner would say it again."""

    def run(self) -> None:
        """Serve until SIGINT, SIGTERM or SIGHUP (the socket listens already: a browser
        that came early waits in its backlog)."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(
            self._make_app(),
            sock=self.sock,
            handle_signals=False,
            loop=loop,
            print=None,
            shutdown_timeout=5,
            access_log=None,
        )
