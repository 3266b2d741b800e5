"""The embedded server (`xiangyin run`): waitress, set up so idle phones cannot stall it.

Waitress reads every request completely on its event loop before a worker thread sees it, so
a client that never finishes its headers costs a socket, not a thread. What stalls it with
its defaults is the connection count: 100 connections at most, idle keep-alive sockets held
for 120 s, and select(), which cannot watch more than 1,024 sockets. A meeting room of phones
with keep-alive reaches that by accident. Here: poll() instead of select(), a limit in the
thousands, idle sockets closed after SERVER_IDLE_TIMEOUT, and the process's open-file limit
raised to fit.
"""
from __future__ import annotations

import resource

from flask import Flask

from core.settings import Settings


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
        "cleanup_interval": max(2, settings.server_idle_timeout // 3),
        "asyncore_use_poll": True,
        "backlog": 2048,
        "max_request_header_size": 64 * 1024,
        "ident": "xiangyin",
    }


def serve(app: Flask, *, host: str, port: int, threads: int) -> None:
    from waitress import serve as waitress_serve

    options = server_options(app.extensions["xiangyin.settings"])
    raise_open_file_limit(options["connection_limit"] + threads + 256)
    waitress_serve(app, host=host, port=port, threads=threads, **options)
