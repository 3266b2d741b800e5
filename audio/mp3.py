"""Walk the frames of an MP3 stream: an exact duration, and proof the stream is whole.

Used to trust audio we did not make ourselves (edge-tts answers, cached files) without
starting ffmpeg for every segment: a truncated or garbled stream fails the walk.
"""
from __future__ import annotations

_BITRATES = {
    1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],  # MPEG-1 layer III
    2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],  # MPEG-2/2.5 layer III
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class NotMp3(ValueError):
    pass


def _skip_id3v2(data: bytes) -> int:
    if data[:3] == b"ID3" and len(data) >= 10:
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        return 10 + size + (10 if data[5] & 0x10 else 0)
    return 0


def mp3_info(data: bytes) -> tuple[float, int, int]:
    """(duration in seconds, sample rate, frame count) of an MPEG layer III stream.

    Raises NotMp3 unless the stream is a clean run of frames to its end (an ID3v2 tag at the
    start and an ID3v1 tag at the end are allowed)."""
    pos = _skip_id3v2(data)
    end = len(data) - (128 if data[-128:-125] == b"TAG" else 0)
    frames = samples = 0
    rate = 0
    while pos < end:
        if end - pos < 4:
            raise NotMp3(f"stream ends inside a frame header at byte {pos}")
        b1, b2 = data[pos + 1], data[pos + 2]
        if data[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
            raise NotMp3(f"no frame sync at byte {pos}")
        version_bits, layer_bits = (b1 >> 3) & 0x3, (b1 >> 1) & 0x3
        bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 0x3, (b2 >> 1) & 0x1
        if version_bits == 1 or layer_bits != 1 or bitrate_index in (0, 15) or rate_index == 3:
            raise NotMp3(f"unsupported or corrupt frame header at byte {pos}")
        mpeg1 = version_bits == 3
        bitrate = _BITRATES[1 if mpeg1 else 2][bitrate_index] * 1000
        rate = _SAMPLE_RATES[version_bits][rate_index]
        length = (144 if mpeg1 else 72) * bitrate // rate + padding
        if pos + length > end:
            raise NotMp3(f"last frame is cut short at byte {pos}")
        frames += 1
        samples += 1152 if mpeg1 else 576
        pos += length
    if not frames:
        raise NotMp3("no audio frames")
    return samples / rate, rate, frames
