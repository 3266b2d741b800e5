"""The embedded server (`xiangyin run`): waitress, set up so neither idle phones nor a
stranger's trickling sockets can stall it.

Waitress reads every request completely on its event loop before a worker thread sees it, so
a client that never finishes its headers costs a socket, not a thread. What stalls it with
its defaults is the connection count: 100 connections at most, idle keep-alive sockets held
for 120 s, and select(), which cannot watch more than 1,024 sockets. A meeting room of phones
with keep-alive reaches that by accident. Here: poll() instead of select(), a limit in the
thousands, idle sockets closed after SERVER_IDLE_TIMEOUT, and the process's open-file limit
raised to fit.

Idle timeouts do not stop a client that sends one header byte every few seconds: each byte
is activity. Such connections never prove they are a browser (a phone sends its whole header
in one packet), so the server here treats a connection as *unproven* until a request's
headers have arrived, and:
- closes a connection whose request headers are not complete SERVER_HEADER_TIMEOUT seconds
  after they began;
- lets one address hold at most SERVER_UNPROVEN_PER_ADDRESS unproven connections, closing its
  oldest to make room for its newest (a village behind one NAT keeps working: its phones'
  connections prove themselves at once);
- when the connection limit is reached, closes the oldest unproven connections instead of
  no longer accepting anyone.
"""
from __future__ import annotations

import resource
import threading
import time
from collections import OrderedDict, defaultdict

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from core.settings import Settings

# Room kept free below the connection limit when unproven connections are closed for new ones.
HEADROOM = 32


def raise_open_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files towards `wanted` (never above the hard limit);
    returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def server_options(settings: Settings) -> dict:
    return {
        "connection_limit": settings.server_connection_limit,
        "channel_timeout": settings.server_idle_timeout,
        "cleanup_interval": max(1, min(settings.server_idle_timeout // 3, settings.server_header_timeout // 3)),
        "asyncore_use_poll": True,
        "backlog": 2048,
        "max_request_header_size": 64 * 1024,
        "ident": "xiangyin",
    }


class GuardedChannel(HTTPChannel):
    """A connection that tells its server when a request's headers begin and when they have
    arrived, and when it is gone."""

    server: GuardedServer
    header_started: float | None = None
    proven = False

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        super().__init__(server, sock, addr, adj, map)
        server.opened(self)

    def received(self, data) -> bool:
        if self.request is None and data:
            self.header_started = time.monotonic()
        taken = super().received(data)
        if self.request is None or self.request.headers_finished:
            self.header_started = None
            if not self.proven:
                self.proven = True
                self.server.proved(self)
        return taken

    def del_channel(self, map=None) -> None:
        super().del_channel(map)
        self.server.gone(self)


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel

    def __init__(self, *args, header_timeout: float, unproven_per_address: int, **kwargs) -> None:
        self.header_timeout = header_timeout
        self.unproven_per_address = unproven_per_address
        self._lock = threading.Lock()
        self._unproven: OrderedDict[GuardedChannel, str] = OrderedDict()
        self._by_address: defaultdict[str, OrderedDict[GuardedChannel, None]] = defaultdict(OrderedDict)
        super().__init__(*args, **kwargs)

    def opened(self, channel: GuardedChannel) -> None:
        address = str(channel.addr[0]) if isinstance(channel.addr, tuple) else str(channel.addr)
        with self._lock:
            self._unproven[channel] = address
            mine = self._by_address[address]
            mine[channel] = None
            crowded = [next(iter(mine))] if len(mine) > self.unproven_per_address else []
        for old in crowded:
            old.handle_close()

    def proved(self, channel: GuardedChannel) -> None:
        self._forget(channel)

    def gone(self, channel: GuardedChannel) -> None:
        self._forget(channel)

    def _forget(self, channel: GuardedChannel) -> None:
        with self._lock:
            address = self._unproven.pop(channel, None)
            if address is not None:
                mine = self._by_address[address]
                mine.pop(channel, None)
                if not mine:
                    del self._by_address[address]

    def readable(self) -> bool:
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            with self._lock:
                excess = len(self._map) - (self.adj.connection_limit - HEADROOM)
                oldest = list(self._unproven)[:max(0, excess)]
            for channel in oldest:
                channel.handle_close()
        return super().readable()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        cutoff = time.monotonic() - self.header_timeout
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "header_started", None)
            if started is not None and started < cutoff:
                channel.will_close = True


def make_servers(app: Flask, *, host: str, port: int, threads: int) -> list[GuardedServer]:
    """Listening sockets for every address `host` resolves to, sharing one loop and one pool
    of worker threads (what waitress.create_server does, with the guarded server)."""
    settings: Settings = app.extensions["xiangyin.settings"]
    adj = Adjustments(host=host, port=port, threads=threads, **server_options(settings))
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    socket_map: dict = {}
    return [GuardedServer(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=info,
                          header_timeout=settings.server_header_timeout,
                          unproven_per_address=settings.server_unproven_per_address) for info in adj.listen]


def serve(app: Flask, *, host: str, port: int, threads: int) -> None:
    settings: Settings = app.extensions["xiangyin.settings"]
    raise_open_file_limit(settings.server_connection_limit + threads + 256)
    servers = make_servers(app, host=host, port=port, threads=threads)
    servers[-1].run()
