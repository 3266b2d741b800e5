"""Online speech through edge-tts: natural Mandarin and dialect-style voices.

The service throttles many parallel connections, sometimes answers with no audio or a 403, and
a stalled socket is not stopped by the library's own timeout. So: bounded concurrency, a hard
timeout per request, retries with exponential backoff and jitter, a deadline for the whole
lesson, and a check that every answer is a complete MP3 that ended with the service's
turn.end; a segment is never returned half-spoken.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import edge_tts
import edge_tts.communicate
from edge_tts.exceptions import EdgeTTSException, NoAudioReceived, UnknownResponse

from audio.engines import Engine, EngineError, EngineUnavailable, SpeechAudio, SpeechConfig, SpeechRequest
from audio.mp3 import NotMp3, mp3_info

RETRY_STATUSES = {403, 408, 429, 500, 502, 503, 504}
# Technical detail (exception types, library messages) goes to the log; people read Chinese.
log = logging.getLogger(__name__)


# Menus ask whether the online service can be reached on every page; the answer is at most
# this old, and is refreshed in the background so no page waits on a dead network.
CHECK_EVERY = 60.0
PROBE_TIMEOUT = 3.0


@dataclass
class _Check:
    result: tuple[bool, str] | None = None
    started: float = -math.inf
    thread: threading.Thread | None = None


_CHECKS: dict[tuple[str, int], _Check] = {}
_CHECKS_LOCK = threading.Lock()


def reachability(host: str, port: int) -> tuple[bool, str]:
    """Whether the service's address accepts connections, as last checked. A check older than
    CHECK_EVERY starts another in the background; only the process's very first question waits
    for an answer (at most PROBE_TIMEOUT)."""
    with _CHECKS_LOCK:
        check = _CHECKS.setdefault((host, port), _Check())
        if time.monotonic() - check.started >= CHECK_EVERY and not (check.thread and check.thread.is_alive()):
            check.started = time.monotonic()
            check.thread = threading.Thread(target=_probe, args=(check, host, port), daemon=True,
                                            name="edge-reachability")
            check.thread.start()
        thread, result = check.thread, check.result
    if result is None and thread is not None:
        thread.join(PROBE_TIMEOUT + 1)
        result = check.result
    return result or (False, "正在检查能否连上在线语音服务，请稍后刷新")


def _probe(check: _Check, host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            result = (True, "在线可用")
    except OSError as exc:
        log.info("online speech service %s:%s unreachable: %r", host, port, exc)
        result = (False, "连不上在线语音服务（没有网络或服务不可用）")
    with _CHECKS_LOCK:
        check.result = result


class _Retryable(Exception):
    """One failed attempt that is worth repeating; str() says what happened, in Chinese."""


class EdgeEngine(Engine):
    name = "edge"
    label = "在线合成（edge-tts）"
    menu_group = "在线声音（需要联网）"
    menu_rank = 0
    online = True
    byte_limit = 1500
    sample_rate = 24000
    audio_format = "mp3"

    def __init__(
        self,
        *,
        enabled: bool = True,
        url: str = "",
        concurrency: int = 3,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.enabled = enabled
        self.url = url or edge_tts.communicate.WSS_URL
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    @classmethod
    def from_config(cls, config: SpeechConfig) -> EdgeEngine:
        edge = config.edge
        return cls(enabled=edge.enabled, url=edge.url, concurrency=edge.concurrency, timeout=edge.timeout,
                   attempts=edge.attempts, backoff=edge.backoff)

    @property
    def version(self) -> str:
        return "edge-tts " + edge_tts.__version__

    def availability(self) -> tuple[bool, str]:
        if not self.enabled:
            return False, "在线语音已在配置中关闭"
        parts = urlsplit(self.url)
        return reachability(parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80))

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        results: list[SpeechAudio] = []
        self.synthesize_many([request], lambda _i, audio: results.append(audio))
        return results[0]

    def synthesize_many(
        self,
        requests: Sequence[SpeechRequest],
        on_result: Callable[[int, SpeechAudio], None],
        *,
        deadline: float | None = None,
        judge: Callable[[SpeechRequest, SpeechAudio], str | None] | None = None,
    ) -> None:
        if not self.enabled:
            raise EngineUnavailable("在线语音已在配置中关闭")
        if requests:
            asyncio.run(self._run_all(requests, on_result, deadline, judge))

    async def _run_all(self, requests, on_result, deadline, judge) -> None:
        # The library reads its endpoint from a module global; point it at the configured one.
        edge_tts.communicate.WSS_URL = self.url
        limit = asyncio.Semaphore(self.concurrency)

        loop = asyncio.get_running_loop()

        async def one(index: int, request: SpeechRequest) -> None:
            async with limit:
                audio = await self._with_retries(request, deadline, judge)
            # Storing (an fsync) runs off the event loop so other downloads keep flowing.
            await loop.run_in_executor(None, on_result, index, audio)

        tasks = [asyncio.create_task(one(i, r)) for i, r in enumerate(requests)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _with_retries(self, request: SpeechRequest, deadline: float | None, judge=None) -> SpeechAudio:
        last = "未知错误"
        for attempt in range(self.attempts):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise EngineUnavailable(f"在线语音合成超时：整课的时限已到（最后一次错误：{last}）")
            timeout = self.timeout if remaining is None else min(self.timeout, remaining)
            try:
                audio = await asyncio.wait_for(self._once(request), timeout)
                # The service sometimes ends normally after speaking only part of the text:
                # a whole, valid MP3 that is too short for what was asked.
                problem = judge(request, audio) if judge else None
                if problem is None:
                    return audio
                log.warning("edge-tts reply refused (%s): %s", problem, request.text[:40])
                last = problem
            except TimeoutError:
                last = f"等待 {timeout:.0f} 秒没有完成"
            except _Retryable as exc:
                last = str(exc)
            if attempt + 1 < self.attempts:
                delay = self.backoff * (2**attempt) * random.uniform(0.5, 1.5)
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - time.monotonic()))
                await self._sleep(delay)
        raise EngineUnavailable(f"在线语音服务连续 {self.attempts} 次失败：{last}")

    async def _once(self, request: SpeechRequest) -> SpeechAudio:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            communicate = edge_tts.Communicate(
                request.text,
                request.voice.engine_voice,
                rate=request.rate_str,
                pitch=request.pitch_str,
                receive_timeout=max(1, int(self.timeout)),
            )
            chunks = []
            try:
                async for chunk in communicate.stream():
                    if chunk["type"] == "audio":
                        chunks.append(chunk["data"])
            except NoAudioReceived:
                raise _Retryable("服务没有返回声音") from None
            except aiohttp.ClientResponseError as exc:
                if exc.status in RETRY_STATUSES:
                    raise _Retryable(f"服务返回 HTTP {exc.status}") from None
                raise EngineError(f"在线语音服务拒绝了请求（HTTP {exc.status}）") from exc
            except (aiohttp.ClientError, ConnectionError, OSError) as exc:
                log.warning("edge-tts connection failed: %r", exc)
                raise _Retryable("连不上在线语音服务（网络不通或服务不可用）") from None
            except UnknownResponse as exc:
                log.warning("edge-tts answered something unexpected: %r", exc)
                raise _Retryable("服务返回了无法识别的内容") from None
            except EdgeTTSException as exc:
                log.warning("edge-tts failed: %r", exc)
                raise _Retryable("在线语音服务出错") from None
            data = b"".join(chunks)
            # turn.end moves the byte count into "cumulative"; without it the socket closed early.
            if communicate.state["chunk_audio_bytes"] or communicate.state["cumulative_audio_bytes"] != len(data):
                raise _Retryable("连接在声音传完之前断开")
            try:
                duration, _, _ = mp3_info(data)
            except NotMp3 as exc:
                log.warning("edge-tts audio is not a whole MP3: %s", exc)
                raise _Retryable("收到的声音不完整") from None
            return SpeechAudio(data, "mp3", duration)
        finally:
            self.in_flight -= 1
