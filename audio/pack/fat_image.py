"""A FAT32 disk image, to clone one pack onto many drives with any USB imaging tool."""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from audio.pack.plan import CHUNK, PackError
from audio.pack.targets import Target
from audio.store import temporary_name

# Where cheap players and mtools expect them: the geometry mkfs.fat writes for a drive of
# this kind (pyfatfs writes 0 heads and 0 sectors per track, which mtools refuses).
SECTORS_PER_TRACK, HEADS = 63, 255
LEFTOVER_SECONDS = 3600


def _set_geometry(image: Path) -> None:
    with open(image, "r+b") as fh:
        boot = fh.read(64)
        bytes_per_sector = struct.unpack_from("<H", boot, 11)[0]
        backup = struct.unpack_from("<H", boot, 50)[0]
        for sector in {0, backup}:
            fh.seek(sector * bytes_per_sector + 24)
            fh.write(struct.pack("<HH", SECTORS_PER_TRACK, HEADS))


class FatImageTarget(Target):
    """A FAT32 disk image written with pyfatfs: directory order is write order, guaranteed."""

    def __init__(self, image: Path) -> None:
        from pyfatfs.PyFatFS import PyFatFS

        self.image = Path(image)
        self.fs = PyFatFS(str(image), utc=True)

    final: Path | None = None

    @staticmethod
    def create(image: Path, size: int, label: str = "XIANGYIN") -> FatImageTarget:
        """A new image, made under a temporary name beside `image`; `publish` gives it that
        name once it is complete and verified, `discard` removes it. A killed run leaves only
        the temporary file, which the next run beside it sweeps away."""
        from pyfatfs.PyFat import PyFat

        from audio.cache import sweep_temporary

        if size < 34 * 1024 * 1024:
            raise PackError("FAT32 镜像至少需要 34 MB")
        image = Path(image)
        sweep_temporary(image.parent, f".tmp-*-{image.name}", LEFTOVER_SECONDS)
        partial = image.with_name(temporary_name(f"-{image.name}"))
        with open(partial, "wb") as fh:
            fh.truncate(size)
        fat = PyFat()
        fat.mkfs(str(partial), fat_type=PyFat.FAT_TYPE_FAT32, size=size, label=label[:11])
        fat.close()
        _set_geometry(partial)
        target = FatImageTarget(partial)
        target.final = image
        return target

    def publish(self) -> Path:
        """Close, verify the pack on the closed image, and give it its name."""
        from audio.pack.writer import verify_pack

        assert self.final is not None, "only an image made by create() is published"
        self.close()
        check = FatImageTarget(self.image)
        try:
            _, problems = verify_pack(check)
        finally:
            check.fs.close()
        if problems:
            self.discard()
            raise PackError("镜像写好后校验不一致：" + "；".join(problems[:3]))
        os.replace(self.image, self.final)
        return self.final

    def discard(self) -> None:
        try:
            self.fs.close()
        except Exception:  # already closed, or the write failed half-way: the file goes anyway
            pass
        self.image.unlink(missing_ok=True)

    def _free_clusters(self) -> int:
        with open(self.image, "rb") as fh:
            boot = fh.read(64)
        bytes_per_sector, per_cluster = struct.unpack_from("<HB", boot, 11)
        reserved, fats = struct.unpack_from("<HB", boot, 14)
        total, fat_size = struct.unpack_from("<I", boot, 32)[0], struct.unpack_from("<I", boot, 36)[0]
        clusters = (total - reserved - fats * fat_size) // per_cluster
        return sum(1 for cluster in self.fs.fs.fat[2:2 + clusters] if cluster == 0)

    def free_bytes(self) -> int:
        return self._free_clusters() * self.fs.fs.bytes_per_cluster

    def makedir(self, path: str) -> None:
        self.fs.makedir("/" + path)

    def write(self, path: str, chunks: Iterator[bytes]) -> None:
        with self.fs.openbin("/" + path, "w") as out:
            for chunk in chunks:
                out.write(chunk)

    def read(self, path: str) -> Iterator[bytes]:
        with self.fs.openbin("/" + path, "r") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, path: str) -> bool:
        return self.fs.exists("/" + path)

    def remove_tree(self, path: str) -> None:
        self.fs.removetree("/" + path)

    def remove_file(self, path: str) -> None:
        self.fs.remove("/" + path)

    def listdir(self, path: str) -> list[str]:
        return self.fs.listdir("/" + path)

    def close(self) -> None:
        """Close, then record the true free-cluster count in FSInfo (pyfatfs leaves the count
        from formatting, and some systems show that as the free space)."""
        free = self._free_clusters()
        self.fs.close()
        with open(self.image, "r+b") as fh:
            boot = fh.read(64)
            bytes_per_sector = struct.unpack_from("<H", boot, 11)[0]
            info_sector, backup_boot = struct.unpack_from("<HH", boot, 48)
            for sector in (info_sector, backup_boot + info_sector):
                fh.seek(sector * bytes_per_sector + 488)
                fh.write(struct.pack("<II", free, 0xFFFFFFFF))


