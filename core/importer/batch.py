"""A batch of uploads inspected together: nothing is imported until the whole batch is
fine or the admin chose what to keep."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

from core.importer.archive import expand_zip
from core.importer.common import ZIP_SUFFIX, ImportRefused, Limits, Upload
from core.importer.formats import parse_script

logger = logging.getLogger(__name__)


def inspect_batch(
    files: Iterable[tuple[str, bytes]],
    limits: Limits,
    *,
    encodings: dict[str, str] | None = None,
    simplify: bool = False,
    title: str | None = None,
) -> list[Upload]:
    """Inspect every uploaded file (zips expanded) without importing anything."""
    encodings = encodings or {}
    uploads: list[Upload] = []
    for filename, data in files:
        if PurePosixPath(filename).suffix.lower() == ZIP_SUFFIX:
            try:
                members = expand_zip(filename, data, limits)
            except ImportRefused as exc:
                uploads.append(Upload(filename, b"", error=str(exc)))
                continue
            except Exception:  # zipfile fails in many ways on damaged archives
                logger.warning("unreadable zip %s", filename, exc_info=True)
                uploads.append(Upload(filename, b"", error=f"「{filename}」压缩包无法读取，可能已损坏"))
                continue
            if not members:
                uploads.append(Upload(filename, b"", error=f"「{filename}」里没有可导入的讲稿文件"))
                continue
            for name, content, refusal in members:
                label = f"{filename}/{name}"
                if refusal:
                    uploads.append(Upload(label, b"", error=refusal))
                else:
                    uploads.append(_inspect_one(label, content, limits, encodings, simplify, None))
        else:
            uploads.append(_inspect_one(filename, data, limits, encodings, simplify, title))
    return uploads


def _inspect_one(label, data, limits, encodings, simplify, title) -> Upload:
    upload = Upload(label, data)
    try:
        result = parse_script(label, data, limits, encoding=encodings.get(label), title=title, simplify=simplify)
    except ImportRefused as exc:
        upload.error = str(exc)
        return upload
    except Exception:  # the decoders (zip, docx XML, table layouts) fail in many ways on damaged files
        logger.warning("unreadable upload %s", label, exc_info=True)
        upload.error = f"「{PurePosixPath(label).name}」无法读取，文件可能已损坏；请重新保存后再上传"
        return upload
    if isinstance(result, list):
        upload.candidates = result
    else:
        result.filename = label
        upload.script = result
    return upload

