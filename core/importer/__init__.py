"""Turn the script files admins already have into clean lesson text, or refuse them clearly.

Office computers in China save .txt as GBK as often as UTF-8, zips made on Chinese Windows
store GBK file names, and Word documents come with headings and empty paragraphs. Everything
here is pure (bytes in, text or a Chinese refusal out) so the web upload and the CLI apply
exactly the same rules, and nothing touches the database until a whole batch is accepted.

Lesson text convention: one paragraph per line, a blank line between sections, and a line
starting with "# " is a section heading (the speech pipeline pauses longer there).

Rooms: common (limits, the refusal, Script and Upload), encoding (which encoding a .txt is in),
cleanup (text and titles as stored), formats (markdown, docx, one file), archive (zips) and
batch (a whole upload at once).
"""
from core.importer.archive import expand_zip, natural_key
from core.importer.batch import inspect_batch
from core.importer.cleanup import clean_text, clean_title, split_title
from core.importer.common import (
    SCRIPT_SUFFIXES,
    ZIP_SUFFIX,
    EncodingCandidate,
    ImportRefused,
    Limits,
    Script,
    Upload,
    human_size,
)
from core.importer.encoding import decode_text, to_simplified
from core.importer.formats import docx_to_text, markdown_to_text, parse_script

__all__ = [
    "SCRIPT_SUFFIXES", "ZIP_SUFFIX", "EncodingCandidate", "ImportRefused", "Limits", "Script", "Upload", "clean_text",
    "clean_title", "decode_text", "docx_to_text", "expand_zip", "human_size", "inspect_batch", "markdown_to_text",
    "natural_key", "parse_script", "split_title", "to_simplified",
]
