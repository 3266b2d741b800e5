"""One door for every recording a person sends: a listener's message, a visit's voice note,
a studio take, an uploaded lesson recording or 口述. Each kind names its limits here; the
bytes are written to a scratch file with no meaningful name and handed to audio.intake, which
judges them by content, decodes them once under hard bounds, and gives back a mono FLAC that
every later step reads instead of the upload.

Callers run this before they write anything to the database (see audio.intake for why)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from audio.intake import Busy, Limits, Refused, Slots, Taken, take_in
from audio.store import temporary_name
from core.errors import Invalid, Unavailable

log = logging.getLogger(__name__)

MESSAGE = Limits(max_seconds=60, min_seconds=1)
VOICE_NOTE = Limits(max_seconds=10 * 60)
VOICE_ANSWER = Limits(max_seconds=2 * 60, min_seconds=1)
REPLY = Limits(max_seconds=3 * 60, min_seconds=1)
TAKE = Limits(max_seconds=5 * 60, wait_seconds=5)


def recording_limits(max_minutes: float) -> Limits:
    """A lesson recording from a recorder or a computer: long, and possibly multichannel or
    high-rate; an admin's upload may wait a little for a free slot."""
    return Limits(max_seconds=max_minutes * 60, min_seconds=1, max_rate=192000, max_channels=8, wait_seconds=30)


def decode_upload(data: bytes, folder: Path, limits: Limits, refused: type[Invalid] = Invalid,
                  slots: Slots | None = None) -> Taken:
    """Check and decode an upload held in memory; the FLAC is left in `folder` under a
    temporary name (`Taken.path`) for the caller to rename or delete. Refused uploads raise
    `refused` with the reason; a full server raises Unavailable."""
    if not data:
        raise refused("录音是空的，请重新录一段")
    folder.mkdir(parents=True, exist_ok=True)
    stem = temporary_name()
    source, output = folder / f"{stem}.upload", folder / f"{stem}.flac"
    source.write_bytes(data)
    try:
        return take_in(source, output, limits, slots)
    except Refused as exc:
        log.info("recording refused (%s bytes): %s", len(data), exc)
        raise refused(str(exc)) from None
    except Busy as exc:
        raise Unavailable(str(exc)) from None
    finally:
        source.unlink(missing_ok=True)


def discard(taken: Taken | None) -> None:
    """Drop a decoded upload nobody kept (a duplicate, or a refusal after decoding)."""
    if taken is not None:
        try:
            os.unlink(taken.path)
        except FileNotFoundError:
            pass


def master_to(taken: Taken, destination: Path, title: str, artist: str, max_seconds: float) -> None:
    """An accepted upload as the MP3 people will hear (loudness evened, like the lessons),
    written under a temporary name in the destination's folder and renamed."""
    from audio.master import LEAD_IN_MS, TAIL_MS, Clip, Gap, MasteringError, Tags, master

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(temporary_name(".mp3"))
    try:
        master([Gap(LEAD_IN_MS), Clip(taken.path, "flac"), Gap(TAIL_MS)], partial,
               Tags(title=title, album=title, artist=artist), max_seconds=max_seconds + 10)
        partial.replace(destination)
    except MasteringError:
        raise Invalid("录音无法处理，请重新录一段") from None
    finally:
        partial.unlink(missing_ok=True)
