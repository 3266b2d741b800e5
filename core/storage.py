"""Where kept files live: one interface, two stores.

Every file the service keeps — finished tracks and their light copies, uploaded recordings
and studio takes, USB pack zips, visit voice notes and listeners' messages — is an object
under a key such as "audio/ab/<sha256>.mp3"; the records hold the part after the area
("ab/<sha256>.mp3"), and only this module knows the layout. The local store keeps objects
under the shared folder (AUDIO_DIR, else DATA_DIR), as every earlier release did; the object
store keeps them in an S3-compatible bucket (a county's 政务云), so web, worker and nginx
machines need no shared mount.

Work in progress is a local file (`scratch`) that `put` moves in whole: a key names a whole
file or nothing, on either store (a rename on a folder, one PUT on a bucket), so a worker
killed mid-write leaves no half track under a final key.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from audio.store import follow_umask, temporary_name
from core.errors import Unavailable
from core.settings import Settings

AUDIO, RECORDINGS, PACKS, NOTES = "audio", "recordings", "packs", "voice_notes"
AREAS = (AUDIO, RECORDINGS, PACKS, NOTES)
SCRATCH = "tmp"  # the local work folder under audio/, never an object


class StoreUnavailable(Unavailable):
    """The store cannot be reached or written; str() says so in Chinese."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Stored:
    key: str
    size: int


def track_key(relative: str) -> str:
    return f"{AUDIO}/{relative}"


def note_key(relative: str) -> str:
    """A visit's voice note or a listener's message, as its record names it."""
    return f"{NOTES}/{relative}"


def track_name(sha256: str, suffix: str) -> str:
    """A finished track is named by its content: the same bytes are kept once, and a pack or
    a printed code that points at them stays valid."""
    return f"{sha256[:2]}/{sha256}{suffix}"


def light_name(main_relative: str) -> str:
    """The light copy sits beside its main file, named after it: the same main bytes always
    have the same light bytes, so it is shared (and removed) with them."""
    return main_relative.rsplit(".", 1)[0] + ".light.mp3"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(key: str) -> None:
    """A key is an area and a relative path in it, nothing that climbs out."""
    parts = key.split("/")
    if parts[0] not in AREAS or any(part in ("", ".", "..") or "\\" in part for part in parts):
        raise ValueError(f"not a key of this store: {key!r}")


class Store(ABC):
    """What every caller uses; the two stores differ only below this line."""

    name: str

    def __init__(self, scratch_root: Path) -> None:
        self.scratch_root = scratch_root

    def scratch(self, suffix: str = "") -> Path:
        """A fresh local path for work in progress, on the same filesystem as the local
        store's files (so `put` there is a rename); swept at start when its process is gone."""
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        return self.scratch_root / temporary_name(suffix)

    def adopt_track(self, path: Path, sha256: str) -> str:
        """Keep a finished track under its content name; returns what the record holds."""
        relative = track_name(sha256, path.suffix)
        self.put(path, track_key(relative))
        return relative

    def adopt_light(self, path: Path, main_relative: str) -> str:
        relative = light_name(main_relative)
        self.put(path, track_key(relative))
        return relative

    @abstractmethod
    def put(self, path: Path, key: str, *, replace: bool = False) -> None:
        """Move a finished local file under `key` (the local file is gone afterwards). A key
        already there is kept unless `replace`: content-named keys hold the same bytes."""

    @abstractmethod
    def open(self, key: str, start: int = 0, length: int | None = None) -> Readable:
        """The object's bytes from `start` (all of them, or `length`), streamed."""

    @abstractmethod
    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local file with the object's bytes for tools that need a path (ffmpeg, the USB
        writer), for the length of the `with`."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Bytes of the object, None when there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a key that is not there is not an error."""

    @abstractmethod
    def iterate(self) -> Iterator[Stored]:
        """Every object of every area, scratch files left out."""

    @abstractmethod
    def listener_url(self, key: str, *, content_type: str, cache_seconds: int,
                     disposition: str | None = None) -> str | None:
        """A short-lived URL a phone fetches the object from directly, or None when the app
        (or nginx in front of it) serves it."""

    def local_path(self, key: str) -> Path | None:
        """The object's own file when it is on this machine's disk (send it, or let nginx)."""
        return None

    @abstractmethod
    def describe(self, key: str) -> str:
        """Where the object is, for an operator: a path or an s3:// address."""

    @abstractmethod
    def check(self) -> None:
        """Raise StoreUnavailable unless an object can be written, read and removed now."""


class LocalStore(Store):
    """Objects as files under one folder (the shared folder)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        super().__init__(root / AUDIO / SCRATCH)
        self.root = root

    def _path(self, key: str) -> Path:
        """Judged by its words, not by where symlinks lead: an area folder may be a link to
        another disk."""
        _check(key)
        return self.root / key

    def put(self, path: Path, key: str, *, replace: bool = False) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not replace:
            path.unlink()
            return
        follow_umask(path)
        if path.stat().st_dev == target.parent.stat().st_dev:
            os.replace(path, target)
            return
        staged = target.with_name(temporary_name(target.suffix))  # another disk: copy, then rename
        shutil.copyfile(path, staged)
        follow_umask(staged)
        os.replace(staged, target)
        path.unlink()

    def open(self, key: str, start: int = 0, length: int | None = None) -> Readable:
        handle = self._path(key).open("rb")
        handle.seek(start)
        return handle if length is None else _Limited(handle, length)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def describe(self, key: str) -> str:
        return str(self._path(key))

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def iterate(self) -> Iterator[Stored]:
        for area in AREAS:
            folder = self.root / area
            for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
                relative = path.relative_to(self.root).as_posix()
                if path.is_file() and not path.name.startswith(".tmp-") and not relative.startswith(f"{AUDIO}/{SCRATCH}/"):
                    yield Stored(relative, path.stat().st_size)

    def listener_url(self, key: str, *, content_type: str, cache_seconds: int,
                     disposition: str | None = None) -> str | None:
        return None

    def check(self) -> None:
        probe = self.scratch(".probe")
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StoreUnavailable(f"音频文件夹 {self.root} 无法写入：{exc.strerror or exc}") from exc


class _Limited:
    """The first `length` bytes of an open file."""

    def __init__(self, handle: Readable, length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


class _Released:
    """A bucket response whose connection goes back to the pool when it is closed."""

    def __init__(self, response) -> None:
        self.response = response

    def read(self, size: int = -1) -> bytes:
        return self.response.read(None if size < 0 else size)

    def close(self) -> None:
        self.response.close()
        self.response.release_conn()


class ObjectStore(Store):
    """Objects in an S3-compatible bucket, through the minio client."""

    name = "s3"

    def __init__(self, settings: Settings) -> None:
        import urllib3
        from minio import Minio

        super().__init__(settings.paths.audio / SCRATCH)
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/") + "/" if settings.s3_prefix.strip("/") else ""
        self.presign = settings.audio_delivery == "presigned"
        # A store that is down is said so within seconds (a listener waits, /readyz answers),
        # not after the client's default minute of retries.
        pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=3, read=60), maxsize=16,
                                   retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                                         status_forcelist=[500, 502, 503, 504]))

        def client(url: str) -> Minio:
            host, secure = _endpoint(url)
            return Minio(host, access_key=settings.s3_access_key, secret_key=settings.s3_secret_key,
                         secure=secure, region=settings.s3_region, http_client=pool)

        self.client = client(settings.s3_endpoint)
        # Presigned URLs carry the host phones reach; signing needs no request (region is set).
        self.signer = client(settings.s3_public_endpoint or settings.s3_endpoint)

    def _name(self, key: str) -> str:
        _check(key)
        return self.prefix + key

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def _errors(self):
        from minio.error import MinioException
        from urllib3.exceptions import HTTPError

        return (MinioException, HTTPError, OSError)

    def put(self, path: Path, key: str, *, replace: bool = False) -> None:
        try:
            if replace or self.size(key) is None:
                # One PUT (multipart above 64 MiB, completed last): the key appears whole.
                self.client.fput_object(self.bucket, self._name(key), str(path), part_size=64 << 20)
        except self._errors() as exc:
            raise StoreUnavailable(f"文件存储暂时无法写入：{exc}") from exc
        path.unlink()

    def open(self, key: str, start: int = 0, length: int | None = None) -> Readable:
        try:
            return _Released(self.client.get_object(self.bucket, self._name(key), offset=start, length=length or 0))
        except self._errors() as exc:
            if getattr(exc, "code", "") == "NoSuchKey":
                raise FileNotFoundError(key) from exc
            raise StoreUnavailable(f"文件存储暂时无法读取：{exc}") from exc

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        copy = self.scratch(Path(key).suffix)
        try:
            self.client.fget_object(self.bucket, self._name(key), str(copy))
        except self._errors() as exc:
            copy.unlink(missing_ok=True)
            if getattr(exc, "code", "") == "NoSuchKey":
                raise FileNotFoundError(key) from exc
            raise StoreUnavailable(f"文件存储暂时无法读取：{exc}") from exc
        try:
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    def size(self, key: str) -> int | None:
        try:
            return self.client.stat_object(self.bucket, self._name(key)).size
        except self._errors() as exc:
            if getattr(exc, "code", "") in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise StoreUnavailable(f"文件存储暂时无法读取：{exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.remove_object(self.bucket, self._name(key))
        except self._errors() as exc:
            raise StoreUnavailable(f"文件存储暂时无法删除文件：{exc}") from exc

    def iterate(self) -> Iterator[Stored]:
        for area in AREAS:
            for item in self.client.list_objects(self.bucket, prefix=f"{self.prefix}{area}/", recursive=True):
                key = (item.object_name or "")[len(self.prefix):]
                if key and not item.is_dir and not key.startswith(f"{AUDIO}/{SCRATCH}/"):
                    yield Stored(key, item.size or 0)

    def listener_url(self, key: str, *, content_type: str, cache_seconds: int,
                     disposition: str | None = None) -> str | None:
        if not self.presign:
            return None
        headers: dict[str, str | list[str] | tuple[str]] = {
                   "response-content-type": content_type,
                   "response-cache-control": f"private, max-age={min(cache_seconds, PRESIGNED_SECONDS)}"}
        if disposition:
            headers["response-content-disposition"] = disposition
        return self.signer.presigned_get_object(self.bucket, self._name(key),
                                                expires=timedelta(seconds=PRESIGNED_SECONDS), response_headers=headers)

    def check(self) -> None:
        key = f"{AUDIO}/{SCRATCH}/.ready-probe"
        try:
            from io import BytesIO

            self.client.put_object(self.bucket, self.prefix + key, BytesIO(b"ok"), 2)
            self.client.remove_object(self.bucket, self.prefix + key)
        except self._errors() as exc:
            raise StoreUnavailable(f"文件存储 {self.bucket} 无法写入：{exc}") from exc


PRESIGNED_SECONDS = 600


def _endpoint(url: str) -> tuple[str, bool]:
    """The minio client's (host:port, secure) from an endpoint URL such as http://10.0.0.5:8333."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return parts.netloc, parts.scheme == "https"


@functools.lru_cache(maxsize=32)
def open_store(settings: Settings, kind: str | None = None) -> Store:
    """The store the settings choose (STORAGE=local or s3), one per settings; `kind` names
    the other one, for copying between them."""
    if (kind or settings.storage) == "s3":
        if not (settings.s3_endpoint and settings.s3_bucket):
            raise StoreUnavailable("对象存储还没有设置：请先设置 S3_ENDPOINT 和 S3_BUCKET（以及 S3_ACCESS_KEY、S3_SECRET_KEY）")
        return ObjectStore(settings)
    return LocalStore(settings.paths.shared)
