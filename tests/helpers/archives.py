"""Zips as Windows and macOS make them."""
from __future__ import annotations

import io
import zipfile


class GbkNamedInfo(zipfile.ZipInfo):
    """What Windows' built-in zip writes on a Chinese system: GBK names, no UTF-8 flag."""

    __slots__ = ()

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


def make_zip(entries: dict[str, bytes], *, gbk_names: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr((GbkNamedInfo if gbk_names else zipfile.ZipInfo)(name), data)
    data = buffer.getvalue()
    if gbk_names:
        for name in entries:
            assert name.encode("gbk") in data
    return data
