"""Offline neural voices that an admin drops into a folder (DATA_DIR/voices or VOICES_DIR).

No neural Chinese voice with cleared weights ships in a package these machines can install,
but the sherpa-onnx model zoo (VITS, Matcha, Kokoro; Piper voices converted for sherpa-onnx)
can be downloaded elsewhere and copied onto the office computer. Each sub-folder holding one
such model becomes one voice per speaker. What the model is — family, sample rate, speakers,
language — is read from the folder's files and the ONNX file's own metadata, without loading
the model (listing must work even where the runtime is not installed); a `voice.toml` beside
it may name the voice, its dialect, gender, default speed, licence and speakers.
"""
from __future__ import annotations

import hashlib
import re
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# The ONNX ModelProto field that holds metadata_props (key/value pairs set by the exporter).
_METADATA_FIELD = 14
# Kokoro's voices.bin holds one 510 × 256 float32 style table per speaker.
_KOKORO_SPEAKER_BYTES = 510 * 256 * 4
# Speakers offered as voices when voice.toml lists none (a 174-speaker model would bury the menu).
DEFAULT_SPEAKERS = 4
VOICE_FILE = "voice.toml"

LANGUAGES = {"chinese": "cmn", "zh": "cmn", "mandarin": "cmn", "cmn": "cmn", "cantonese": "yue", "yue": "yue",
             "english": "en", "en": "en"}
LANGUAGE_LABELS = {"cmn": "普通话", "yue": "粤语", "en": "英语"}


class FolderError(ValueError):
    """A model folder that cannot become a voice; str() says why, in Chinese."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise FolderError("模型文件不完整或不是 ONNX 格式")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def onnx_metadata(path: Path) -> dict[str, str]:
    """The key/value metadata of an ONNX file, read by walking the top level of the protobuf
    and seeking past the graph (the weights), so a 100 MB model costs a few reads."""
    found: dict[str, str] = {}
    with path.open("rb") as stream:
        size = path.stat().st_size
        position = 0
        while position < size:
            stream.seek(position)
            head = stream.read(20)
            tag, after = _varint(head, 0)
            number, wire = tag >> 3, tag & 7
            position += after
            if wire == 0:
                _, used = _varint(head, after)
                position += used - after
            elif wire == 1:
                position += 8
            elif wire == 5:
                position += 4
            elif wire == 2:
                length, used = _varint(head, after)
                position += used - after
                if number == _METADATA_FIELD:
                    stream.seek(position)
                    key, value = _entry(stream.read(length))
                    found[key] = value
                position += length
            else:
                raise FolderError(f"{path.name} 不是 ONNX 模型文件")
    return found


def _entry(data: bytes) -> tuple[str, str]:
    key = value = ""
    at = 0
    while at < len(data):
        tag, at = _varint(data, at)
        length, at = _varint(data, at)
        text = data[at:at + length].decode("utf-8", errors="replace")
        at += length
        if tag >> 3 == 1:
            key = text
        elif tag >> 3 == 2:
            value = text
    return key, value


@dataclass(frozen=True)
class Speaker:
    sid: int
    label: str
    gender: str


@dataclass(frozen=True)
class ModelFolder:
    """One model folder as found on disk. `problem` is why it cannot speak (missing files),
    in Chinese; the files the runtime needs are named in `files`."""

    path: Path
    family: str  # "vits" | "matcha" | "kokoro" | "unknown"
    label: str
    language: str
    dialect: str
    sample_rate: int
    speakers: tuple[Speaker, ...]
    speed: float = 1.0
    licence: str = ""
    preferred: bool = False
    files: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def slug(self) -> str:
        """The folder's name in a voice id; a name that is not plain ASCII gets a short hash."""
        name = self.path.name.lower()
        base = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
        if base == name:
            return base
        return f"{base[:24]}-{hashlib.sha256(self.path.name.encode()).hexdigest()[:8]}".strip("-")

    def voice_id(self, sid: int) -> str:
        return f"neural-{self.slug}" + (f"-{sid}" if len(self.speakers) > 1 or sid else "")

    def model_files(self) -> list[Path]:
        """Every file whose bytes change what the model says: hashed into the segment cache
        key, so replacing a model never replays the old one's audio."""
        names = [self.files[key] for key in ("model", "acoustic_model", "vocoder", "voices", "tokens", "lexicon")
                 if self.files.get(key)]
        return [Path(name) for joined in names for name in joined.split(",")]


_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def content_hash(folder: ModelFolder) -> str:
    """sha256 over the model's files, remembered per (path, size, mtime) for the process."""
    digest = hashlib.sha256()
    for path in folder.model_files():
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _HASH_LOCK:
            known = _HASHES.get(key)
        if known is None:
            part = hashlib.sha256()
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    part.update(block)
            known = part.hexdigest()
            with _HASH_LOCK:
                _HASHES[key] = known
        digest.update(path.name.encode() + b"\0" + known.encode())
    return digest.hexdigest()


def _settings(path: Path) -> dict:
    file = path / VOICE_FILE
    if not file.is_file():
        return {}
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FolderError(f"{VOICE_FILE} 写得不对：{exc}") from None


def _onnx_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("*.onnx") if p.is_file())


def _joined(paths) -> str:
    return ",".join(str(p) for p in paths)


def _family(path: Path, models: list[Path], chosen: str) -> tuple[str, dict[str, str], dict[str, str], str | None]:
    """(family, files for the runtime, the main model's metadata, what is missing). `chosen`
    names the model file when a folder holds several (model.onnx beside model.int8.onnx)."""
    metadata = {model: onnx_metadata(model) for model in models}
    vocoders = [m for m in models if re.search(r"vocos|hifigan|vocoder", m.name, re.I)
                or metadata[m].get("model_type", "").lower() in ("vocos", "hifigan")]
    acoustic = [m for m in models if m not in vocoders]
    files: dict[str, str] = {}
    tokens = path / "tokens.txt"
    if tokens.is_file():
        files["tokens"] = str(tokens)
    for name, key in (("espeak-ng-data", "data_dir"), ("dict", "dict_dir")):
        if (path / name).is_dir():
            files[key] = str(path / name)
    fsts = sorted(p for p in path.glob("*.fst") if p.is_file())
    if fsts:
        files["rule_fsts"] = _joined(fsts)
    fars = sorted(p for p in path.glob("*.far") if p.is_file())
    if fars:
        files["rule_fars"] = _joined(fars)
    if not acoustic:
        return "unknown", files, {}, "文件夹里没有模型文件（.onnx）"
    if chosen and (path / chosen) not in acoustic:
        return "unknown", files, {}, f"{VOICE_FILE} 里写的模型文件 {chosen} 不在文件夹里"
    main = path / chosen if chosen else next((m for m in acoustic if ".int8." not in m.name), acoustic[0])
    meta = metadata[main]
    model_type = meta.get("model_type", "").lower()
    missing = [] if "tokens" in files else ["tokens.txt"]
    if (path / "voices.bin").is_file() or "kokoro" in model_type:
        files.update(model=str(main), voices=str(path / "voices.bin"))
        lexicons = sorted(p for p in path.glob("lexicon*.txt") if p.is_file())
        if lexicons:
            files["lexicon"] = _joined(lexicons)
        missing += [name for name, ok in (("voices.bin", (path / "voices.bin").is_file()),
                                          ("espeak-ng-data", "data_dir" in files)) if not ok]
        family = "kokoro"
    elif "matcha" in model_type or vocoders:
        files["acoustic_model"] = str(main)
        if vocoders:
            files["vocoder"] = str(vocoders[0])
        else:
            missing.append("声码器（vocos 或 hifigan 的 .onnx 文件）")
        family = "matcha"
    else:
        if (path / f"{main.name}.json").is_file() and "tokens" not in files:
            return "unknown", files, meta, "这是 Piper 原始格式的声音，请改用 sherpa-onnx 转换版（vits-piper-…）"
        files["model"] = str(main)
        family = "vits"
    if family != "kokoro":
        lexicon = path / "lexicon.txt"
        if lexicon.is_file():
            files["lexicon"] = str(lexicon)
        elif "data_dir" not in files and meta.get("frontend") != "characters":
            missing.append("lexicon.txt 或 espeak-ng-data")
    if not meta.get("sample_rate", "").isdigit():
        missing.append("模型里的采样率信息（sample_rate）")
    problem = "缺少 " + "、".join(missing) if missing else None
    return family, files, meta, problem


def _speakers(path: Path, family: str, meta: dict[str, str], settings: dict, gender: str) -> tuple[Speaker, ...]:
    if family == "kokoro":
        voices = path / "voices.bin"
        count = voices.stat().st_size // _KOKORO_SPEAKER_BYTES if voices.is_file() else 1
    else:
        count = int(meta["n_speakers"]) if meta.get("n_speakers", "").isdigit() else 1
    count = max(1, count)
    names = [n.strip() for n in meta.get("speaker_names", "").split(",") if n.strip()]
    listed = settings.get("speakers")
    if isinstance(listed, dict) and listed:
        chosen = []
        for sid_text, entry in listed.items():
            if not str(sid_text).isdigit() or int(sid_text) >= count:
                raise FolderError(f"{VOICE_FILE} 里的说话人编号 {sid_text} 不在 0–{count - 1} 之内")
            entry = entry if isinstance(entry, dict) else {"label": str(entry)}
            chosen.append(Speaker(int(sid_text), str(entry.get("label", f"说话人 {sid_text}")),
                                  str(entry.get("gender", gender))))
        return tuple(sorted(chosen, key=lambda s: s.sid))
    return tuple(Speaker(sid, names[sid] if sid < len(names) else f"说话人 {sid}", gender)
                 for sid in range(min(count, DEFAULT_SPEAKERS)))


def read_folder(path: Path) -> ModelFolder:
    """What one folder holds; a folder that cannot speak is still described, with its problem."""
    try:
        settings = _settings(path)
        family, files, meta, problem = _family(path, _onnx_files(path), str(settings.get("model", "")))
    except (FolderError, OSError) as exc:
        return ModelFolder(path, "unknown", path.name, "", "", 0, (Speaker(0, "", "female"),), problem=str(exc))
    language_text = str(settings.get("language") or meta.get("language", ""))
    language = next((code for word, code in LANGUAGES.items()
                     if re.search(rf"(?<![a-z]){word}(?![a-z])", language_text.lower())), "")
    if family == "kokoro" and "lexicon" in files and "zh" in files["lexicon"]:
        language = language or "cmn"
    gender = str(settings.get("gender", "female"))
    try:
        speakers = _speakers(path, family, meta, settings, gender if gender in ("female", "male") else "female")
    except FolderError as exc:
        speakers, problem = (Speaker(0, "", "female"),), str(exc)
    if not language and problem is None:
        problem = "不知道这个模型说哪种语言：请在 voice.toml 里写 language = \"cmn\""
    try:
        speed = float(settings.get("speed", 1.0))
    except (TypeError, ValueError):
        speed, problem = 1.0, problem or f"{VOICE_FILE} 里的 speed 应是数字，如 0.9"
    if not 0.5 <= speed <= 2.0:
        speed, problem = 1.0, problem or f"{VOICE_FILE} 里的 speed 应在 0.5 到 2.0 之间"
    dialect = str(settings.get("dialect") or LANGUAGE_LABELS.get(language, ""))
    return ModelFolder(
        path=path, family=family, label=str(settings.get("label") or f"{dialect or '离线'} · {path.name}"),
        language=language, dialect=dialect,
        sample_rate=int(meta.get("sample_rate", "0") or 0) if meta.get("sample_rate", "").isdigit() else 0,
        speakers=speakers, speed=speed, licence=str(settings.get("licence", "")),
        preferred=bool(settings.get("fallback", False)), files=files, problem=problem,
    )


_SCANS: dict[Path, tuple[tuple, list[ModelFolder]]] = {}
_SCAN_LOCK = threading.Lock()


def _signature(root: Path) -> tuple:
    """Changes when a folder is added, removed or has a file replaced."""
    parts = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        parts.append((folder.name, tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                                         for f in sorted(folder.iterdir()) if f.is_file())))
    return tuple(parts)


def scan(root: Path | None) -> list[ModelFolder]:
    """Every model folder under root, re-read only when something in it changed."""
    if root is None or not root.is_dir():
        return []
    try:
        signature = _signature(root)
    except OSError:
        return []
    with _SCAN_LOCK:
        known = _SCANS.get(root)
        if known and known[0] == signature:
            return known[1]
    folders = [read_folder(root / name) for name, _ in signature]
    with _SCAN_LOCK:
        _SCANS[root] = (signature, folders)
    return folders


def iter_speakers(folders: list[ModelFolder]) -> Iterator[tuple[ModelFolder, Speaker]]:
    for folder in folders:
        for speaker in folder.speakers:
            yield folder, speaker
