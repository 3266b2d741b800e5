"""Where a pack is written: a mounted drive (a directory), with the errors a pulled-out or
full drive gives translated for the volunteer."""
from __future__ import annotations

import errno
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from audio.pack.plan import CHUNK, STAGING_PREFIX, STAGING_SUFFIX, PackError

# --------------------------------------------------------------------------- writers


class Target(ABC):
    """Where a pack goes: something that creates folders and writes files in order."""

    # Whether a file may be read back on another thread while the next one is written.
    concurrent_reads = False

    def staging_name(self, path: str, number: int) -> str:
        """Where a track is written before it is complete and verified. A drive can be pulled
        out or the writer killed mid-track: the track is written under an 8.3 name no player
        plays (~XY00003.TMP, one directory slot, so the renamed tracks, whose long names need
        more, always land after it and keep their written order) and renamed when checked.
        A disk image is complete or discarded as a whole, so its tracks need no second name."""
        return path

    def rename(self, old: str, new: str) -> None:
        raise NotImplementedError

    @abstractmethod
    def free_bytes(self) -> int: ...

    @abstractmethod
    def makedir(self, path: str) -> None: ...

    @abstractmethod
    def write(self, path: str, chunks: Iterator[bytes]) -> None: ...

    def copy(self, path: str, source: Path) -> None:
        self.write(path, _file_chunks(source))

    def finish_folder(self, path: str) -> None:  # noqa: B027 - most targets have nothing to do
        """Everything in `path` is written: make its directory entries durable."""

    @abstractmethod
    def read(self, path: str) -> Iterator[bytes]: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def remove_tree(self, path: str) -> None: ...

    @abstractmethod
    def remove_file(self, path: str) -> None: ...

    @abstractmethod
    def listdir(self, path: str) -> list[str]: ...


class DirectoryTarget(Target):
    """A mounted drive. Each file is synced on a helper thread while the next one is being
    copied: files are still created one at a time in play order (which fixes the directory
    order), but the drive never idles waiting for a flush. Reading a file back waits for its
    sync, and the cached pages are dropped first, so verification reads the drive itself."""

    concurrent_reads = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._syncer = ThreadPoolExecutor(max_workers=1)
        self._synced: dict[str, Future] = {}

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def staging_name(self, path: str, number: int) -> str:
        return str(PurePosixPath(path).parent / f"{STAGING_PREFIX}{number:05d}{STAGING_SUFFIX}")

    def rename(self, old: str, new: str) -> None:
        self._wait(old)
        os.rename(self.root / old, self.root / new)
        _fsync_dir((self.root / new).parent)

    def makedir(self, path: str) -> None:
        (self.root / path).mkdir(parents=False, exist_ok=False)
        _fsync_dir(self.root / path)

    def write(self, path: str, chunks: Iterator[bytes]) -> None:
        out = open(self.root / path, "xb")
        try:
            for chunk in chunks:
                out.write(chunk)
        except BaseException:
            out.close()
            raise
        self._synced[path] = self._syncer.submit(_sync_and_close, out)

    def copy(self, path: str, source: Path) -> None:
        out = open(self.root / path, "xb")
        try:
            with open(source, "rb") as src:
                _sendfile(src, out)
        except BaseException:
            out.close()
            raise
        self._synced[path] = self._syncer.submit(_sync_and_close, out)

    def _wait(self, path: str) -> None:
        pending = self._synced.pop(path, None)
        if pending is not None:
            pending.result()  # re-raises a failed flush (drive full or pulled out)

    def finish_folder(self, path: str) -> None:
        for name in [p for p in self._synced if p.startswith(path + "/") or p == path]:
            self._wait(name)
        _fsync_dir(self.root / path)

    def read(self, path: str) -> Iterator[bytes]:
        self._wait(path)
        with open(self.root / path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, path: str) -> bool:
        self._wait(path)
        return (self.root / path).exists()

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(self.root / path)
        _fsync_dir(self.root)

    def remove_file(self, path: str) -> None:
        self._wait(path)
        (self.root / path).unlink()

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.root / path)) if path else sorted(os.listdir(self.root))


def _sync_and_close(out) -> None:
    try:
        out.flush()
        os.fsync(out.fileno())
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        out.close()


def _sendfile(src, out) -> None:
    size = os.fstat(src.fileno()).st_size
    offset = 0
    while offset < size:
        sent = os.sendfile(out.fileno(), src.fileno(), offset, size - offset)
        if sent == 0:
            break
        offset += sent


def visible_drives(patterns: Sequence[str]) -> list[tuple[Path, int]]:
    """Mounted drives this computer can see (the server runs on the volunteer's own machine):
    (mount point, free bytes). `patterns` are globs such as /media/*/*."""
    import glob

    found = []
    for pattern in patterns:
        for name in sorted(glob.glob(pattern)):
            path = Path(name)
            if path.is_dir() and (os.path.ismount(path) or os.name == "nt") and os.access(path, os.W_OK):
                found.append((path, shutil.disk_usage(path).free))
    return found


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def translate_os_error(exc: OSError) -> PackError:
    if exc.errno == errno.ENOSPC:
        return PackError("U 盘空间不够，学习包没有写完。请换一个更大的 U 盘或少选几课。")
    if exc.errno in (errno.ENOENT, errno.EIO, errno.ENODEV, errno.ENXIO, errno.EROFS):
        return PackError("U 盘被拔出、只读或无法写入，学习包没有写完。请重新插好 U 盘后再写一次。")
    return PackError(f"写入失败：{exc.strerror or exc}")

