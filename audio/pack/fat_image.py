"""A FAT32 disk image, to clone one pack onto many drives with any USB imaging tool."""
from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from audio.pack.plan import CHUNK, PackError
from audio.pack.targets import Target

class FatImageTarget(Target):
    """A FAT32 disk image written with pyfatfs: directory order is write order, guaranteed."""

    def __init__(self, image: Path) -> None:
        from pyfatfs.PyFatFS import PyFatFS

        self.image = Path(image)
        self.fs = PyFatFS(str(image), utc=True)

    @staticmethod
    def create(image: Path, size: int, label: str = "XIANGYIN") -> FatImageTarget:
        from pyfatfs.PyFat import PyFat

        if size < 34 * 1024 * 1024:
            raise PackError("FAT32 镜像至少需要 34 MB")
        with open(image, "wb") as fh:
            fh.truncate(size)
        fat = PyFat()
        fat.mkfs(str(image), fat_type=PyFat.FAT_TYPE_FAT32, size=size, label=label[:11])
        fat.close()
        return FatImageTarget(image)

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


