"""USB audio packs for the plug-in players elderly members use (唱戏机, 插卡音箱).

Those players play files in the order they were written to the FAT directory, not by name,
some sort by the 8.3 short name, and none can show a long Chinese title. So a pack is written
into a fresh folder, one file at a time in play order, each flushed and synced; every name
starts with a zero-padded ASCII number that survives into the short name; and the manifest
(hashes of every file) is written last: a pack without a manifest is incomplete by definition.

Targets: a directory (a mounted drive), a FAT32 disk image (to clone onto many drives), or a
zip download. Nothing here knows about the database; core/packs.py plans packs from records.

Rooms: plan (what a pack holds, names), side_files (catalogs, playlist, manifest), targets (a
mounted drive), fat_image (a FAT32 image), writer (write, verify, zip).
"""
from audio.pack.fat_image import FatImageTarget
from audio.pack.plan import CATALOG_PDF, CATALOG_TXT, MANIFEST, PLAYLIST, Folder, PackError, Plan, Track, safe_name
from audio.pack.side_files import side_files
from audio.pack.targets import DirectoryTarget, Target, visible_drives
from audio.pack.writer import verify_pack, write_pack, write_zip, write_zip_file

__all__ = [
    "CATALOG_PDF", "CATALOG_TXT", "MANIFEST", "PLAYLIST", "DirectoryTarget", "FatImageTarget", "Folder", "PackError",
    "Plan", "Target", "Track", "safe_name", "side_files", "verify_pack", "visible_drives", "write_pack", "write_zip",
    "write_zip_file",
]
