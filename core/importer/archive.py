"""Zips as Windows makes them (GBK names), refused whole when a path or a size is unsafe."""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import PurePosixPath

from core.importer.common import JUNK_NAMES, ZIP_SUFFIX, ImportRefused, Limits, human_size

# --------------------------------------------------------------------------- batches and zips


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """Zips made by Windows' built-in tool on a Chinese system store GBK names without the
    UTF-8 flag; Python then decodes them as CP437 and shows mojibake."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def natural_key(name: str) -> list:
    """Order 第2课 before 第10课 (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def expand_zip(filename: str, data: bytes, limits: Limits) -> list[tuple[str, bytes, str | None]]:
    """Return the zip's entries as (name, bytes, refusal or None) in natural order.

    A zip is refused as a whole when it is unsafe (absolute paths, "..", too many entries, too
    large when unpacked): a crafted archive must not be half-trusted. A single entry that is
    merely unusable (too big, a nested zip) is refused on its own.
    """
    if len(data) > limits.max_zip_bytes:
        raise ImportRefused(filename, f"太大（{human_size(len(data))}），压缩包不能超过 {human_size(limits.max_zip_bytes)}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, struct.error, NotImplementedError):
        raise ImportRefused(filename, "不是有效的 .zip 压缩包，可能已损坏") from None
    files = [info for info in infos if not info.is_dir()]
    if len(files) > limits.max_zip_entries:
        raise ImportRefused(filename, f"里有 {len(files)} 个文件，超过上限 {limits.max_zip_entries} 个")
    total = sum(info.file_size for info in files)
    if total > limits.max_zip_uncompressed_bytes:
        raise ImportRefused(filename, f"解压后有 {human_size(total)}，超过上限 {human_size(limits.max_zip_uncompressed_bytes)}")
    entries: list[tuple[str, bytes, str | None]] = []
    for info in files:
        name = _zip_member_name(info).replace("\\", "/")
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).name in ("", ".", ".."):
            if ".." in parts:
                raise ImportRefused(filename, f"含有不安全的路径「{name}」（绝对路径或 ..），已拒绝整个压缩包")
            continue
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise ImportRefused(filename, f"含有不安全的路径「{name}」（绝对路径或 ..），已拒绝整个压缩包")
        base = PurePosixPath(name).name
        if parts[0] == "__MACOSX" or base.startswith("._") or base.lower() in JUNK_NAMES:
            continue
        if info.flag_bits & 0x1:
            raise ImportRefused(filename, f"中的「{name}」有密码保护，无法读取")
        if PurePosixPath(base).suffix.lower() == ZIP_SUFFIX:
            entries.append((name, b"", f"「{base}」是压缩包里的压缩包，请先解开再上传"))
        elif info.file_size > limits.max_script_bytes:
            size, cap = human_size(info.file_size), human_size(limits.max_script_bytes)
            entries.append((name, b"", f"「{base}」太大（{size}），单个讲稿不能超过 {cap}"))
        else:
            try:
                entries.append((name, archive.read(info), None))
            except NotImplementedError:
                raise ImportRefused(filename, f"中的「{name}」用了不支持的压缩方式，请用 Windows 或 WPS 自带的压缩重新打包") from None
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, ValueError, zlib.error, struct.error):
                raise ImportRefused(filename, f"中的「{name}」无法解压，压缩包可能已损坏") from None
    entries.sort(key=lambda item: natural_key(item[0]))
    return entries


