"""A village signal between the phone and the server: a TCP relay that can be switched off
(every connection, open ones included, is cut) or made one bar: every connection — the page,
the audio, the service worker's own requests, the heartbeats — shares one slow link with a
fixed delay, as a real phone's one bar does. Browser network emulation does not reach a
service worker's own requests and throttles each request apart; this wire does neither."""
from __future__ import annotations

import collections
import contextlib
import socket
import threading
import time

PACKET = 1400


class Link:
    """One direction of a slow link: packets are sent one after another at `kbps` (whoever
    asks first goes first), then arrive `delay` seconds later. A connection may read ahead no
    more than the link's window, like TCP over it."""

    def __init__(self, kbps: float, delay: float) -> None:
        self.kbps = kbps
        self.delay = delay
        self.free_at = 0.0
        self.sent = 0
        self._lock = threading.Lock()

    def transmit(self, size: int) -> float:
        """Occupy the link for `size` bytes; returns when they arrive at the far end."""
        with self._lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + size * 8 / (self.kbps * 1000)
            self.sent += size
            done = self.free_at
        time.sleep(max(0.0, done - time.monotonic()))
        return done + self.delay


class SignalGate:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.latency = 0.0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def down(self) -> None:
        """No signal: open connections are cut, new ones closed at once."""
        self.up = False
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._open.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, server))
        threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
        self._pump(server, client, False)

    def shape(self, kbps: float, latency: float) -> None:
        """One bar: `kbps` each way shared by every connection, `latency` seconds round trip."""
        self.links = (Link(kbps, latency / 2), Link(kbps, latency / 2))

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        links = getattr(self, "links", None)
        if links is not None:
            self._pump_shaped(source, target, links[1 if delayed else 0])
            return
        first = True
        try:
            while True:
                data = source.recv(65536)
                if not data or not self.up:
                    break
                if delayed and first and self.latency:
                    time.sleep(self.latency)
                first = False
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(source, target)

    def _pump_shaped(self, source: socket.socket, target: socket.socket, link: Link) -> None:
        """Read a packet, hold the link while it is sent, hand it to a writer that delivers it
        after the delay; the reader goes on at once, so the link stays full (no stop-and-wait)."""
        arrivals: collections.deque = collections.deque()
        ready = threading.Condition()
        finished = []

        def deliver() -> None:
            try:
                while True:
                    with ready:
                        while not arrivals and not finished:
                            ready.wait()
                        if not arrivals:
                            break
                        due, data = arrivals.popleft()
                    time.sleep(max(0.0, due - time.monotonic()))
                    if data is None:
                        break
                    target.sendall(data)
            except OSError:
                pass
            finally:
                self._close_pair(source, target)

        threading.Thread(target=deliver, daemon=True).start()
        try:
            while self.up:
                data = source.recv(PACKET)
                if not data:
                    break
                due = link.transmit(len(data))
                with ready:
                    arrivals.append((due, data))
                    ready.notify()
        except OSError:
            pass
        finally:
            with ready:
                arrivals.append((time.monotonic() + link.delay, None))
                finished.append(True)
                ready.notify()

    def _close_pair(self, source: socket.socket, target: socket.socket) -> None:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.close()
        with self._lock:
            self._open.discard(source)
            self._open.discard(target)
