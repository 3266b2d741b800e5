"""A local stand-in for the edge-tts WebSocket service, for tests and benchmarks.

It speaks the wire protocol the real edge_tts library expects, answers with real MP3 speech
(the offline engine speaking the received text, encoded like the service: 24 kHz, 48 kbit/s,
mono) and can inject the faults seen in the field, one per incoming connection.
"""
from __future__ import annotations

import asyncio
import html
import re
import subprocess
import threading
import uuid
from collections import deque
from email.utils import formatdate

import imageio_ffmpeg
from aiohttp import web

from audio.engines import SpeechRequest
from audio.engines.espeak import EspeakEngine
from audio.voices import get_voice

FAULTS = {"403", "503", "no_audio", "drop", "stall", "slow", "half"}
_SSML_TEXT = re.compile(r"<prosody[^>]*>(.*)</prosody>", re.S)
_VOICE = re.compile(r"<voice name='([^']+)'>")


def speech_mp3(text: str, language: str = "offline-mandarin") -> bytes:
    """Real speech for `text`, encoded the way the service encodes it."""
    wav = EspeakEngine().synthesize(SpeechRequest(text, get_voice(language))).data
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "wav", "-i", "pipe:0", "-ar", "24000", "-ac", "1",
         "-b:a", "48k", "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3", "pipe:1"],
        input=wav, capture_output=True, check=True,
    ).stdout


def _text_frame(path: str, body: str = "") -> str:
    return f"X-RequestId:{uuid.uuid4().hex}\r\nContent-Type:application/json; charset=utf-8\r\nPath:{path}\r\n\r\n{body}"


def _audio_frame(payload: bytes) -> bytes:
    header = f"X-RequestId:{uuid.uuid4().hex}\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n".encode()
    return len(header).to_bytes(2, "big") + header + payload


class FakeEdgeServer:
    def __init__(self, latency: float = 0.0, slow_latency: float = 2.0) -> None:
        self.latency = latency
        self.slow_latency = slow_latency
        self.faults: deque[str] = deque()
        self.always: str | None = None  # a fault for every request: a total outage
        self.fail_texts: set[str] = set()  # requests whose text contains one of these get no audio
        self.texts: list[str] = []
        self.voices: list[str] = []
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self._audio: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/edge/v1?TrustedClientToken=test"

    def inject(self, *faults: str) -> None:
        for fault in faults:
            assert fault in FAULTS, fault
            self.faults.append(fault)

    def start(self) -> FakeEdgeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        """Take the service away (an outage); stopping it again does nothing."""
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/edge/v1", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def _mp3(self, text: str, voice: str) -> bytes:
        language = "offline-cantonese" if voice.startswith("zh-HK") else "offline-mandarin"
        key = language + "\0" + text
        with self._lock:
            if key not in self._audio:
                self._audio[key] = speech_mp3(text, language)
            return self._audio[key]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        fault = self.always or (self.faults.popleft() if self.faults else None)
        if fault == "403":
            return web.Response(status=403, headers={"Date": formatdate(usegmt=True)})
        if fault == "503":
            return web.Response(status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await ws.receive()  # speech.config
            ssml = (await ws.receive()).data
            text = html.unescape(_SSML_TEXT.search(ssml).group(1))
            voice = _VOICE.search(ssml).group(1)
            self.texts.append(text)
            self.voices.append(voice)
            if any(marker in text for marker in self.fail_texts):
                fault = "no_audio"
            await asyncio.sleep(self.slow_latency if fault == "slow" else self.latency)
            if fault == "stall":
                await asyncio.sleep(3600)
            await ws.send_str(_text_frame("turn.start", "{}"))
            if fault != "no_audio":
                # "half": a whole, valid MP3 of only the first half of the text, ended normally.
                said = text[: max(1, len(text) // 2)] if fault == "half" else text
                audio = await asyncio.get_running_loop().run_in_executor(None, self._mp3, said, voice)
                if fault == "drop":
                    await ws.send_bytes(_audio_frame(audio[: len(audio) // 2]))
                    await ws.close()
                    return ws
                for start in range(0, len(audio), 4096):
                    await ws.send_bytes(_audio_frame(audio[start:start + 4096]))
            await ws.send_str(_text_frame("turn.end", "{}"))
            await ws.close()
            return ws
        finally:
            self.active -= 1


def main() -> None:
    """Serve in a process of its own (benchmarks: client and server must not share a GIL).
    Prints the URL, then serves until stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeEdgeServer(latency=args.latency).start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
