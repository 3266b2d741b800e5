"""Moving an installation's kept files from one store to another (`xiangyin storage copy`).

A community that grows into a county moves its audio, recordings, packs and notes from its
folder into the county's bucket (or back). Every object is copied through a local file whose
SHA-256 is taken on the way, then read back from the target and compared; an object already
in the target with the same size and hash is left alone, so an interrupted copy is simply run
again. The source is never changed: switching STORAGE is the operator's last step.
"""
from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from core.storage import Store, StoreUnavailable, sha256_of


@dataclass
class CopyReport:
    copied: int = 0
    present: int = 0  # already in the target, same size and hash
    bytes: int = 0
    failed: list[str] = field(default_factory=list)


def _target_digest(target: Store, key: str, size: int) -> str | None:
    """The target's hash of the object when it holds `size` bytes under `key`, else None."""
    if target.size(key) != size:
        return None
    digest, source = hashlib.sha256(), target.open(key)
    try:
        while block := source.read(1 << 20):
            digest.update(block)
    finally:
        source.close()
    return digest.hexdigest()


def copy_store(source: Store, target: Store, progress: Callable[[str, str], None] | None = None) -> CopyReport:
    """Copy every object of `source` into `target`, verified; `progress(key, what)` hears of
    each one ("已有", "已复制" or why it failed, in Chinese)."""
    report = CopyReport()
    for stored in source.iterate():
        try:
            with source.local_copy(stored.key) as path:
                digest = sha256_of(path)
                if _target_digest(target, stored.key, stored.size) == digest:
                    report.present += 1
                    what = "已有"
                else:
                    staged = target.scratch(path.suffix)
                    try:
                        shutil.copyfile(path, staged)
                        target.put(staged, stored.key, replace=True)
                    finally:
                        staged.unlink(missing_ok=True)
                    if _target_digest(target, stored.key, stored.size) != digest:
                        raise StoreUnavailable("复制后读回的内容与原文件不一致")
                    report.copied += 1
                    report.bytes += stored.size
                    what = "已复制"
        except (OSError, StoreUnavailable) as exc:
            what = f"失败：{exc}"
            report.failed.append(f"{stored.key}：{exc}")
        if progress is not None:
            progress(stored.key, what)
    return report
