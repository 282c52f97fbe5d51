"""Display names of evidence files: what the uploader called it, made harmless to show and to save.

The name never becomes a storage path (objects are stored under generated keys); it is only shown, put in a
Content-Disposition header and used inside export bundles, so it must carry no directories, no `..`, no control
or direction-override characters, and nothing a Windows machine would refuse when the bundle is unpacked.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from services.common.errors import InvalidInput

MAX_BYTES = 255
# Windows refuses these as file names whatever the extension ("NUL.mp4" included).
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
UNSAFE = re.compile(r'[<>:"|?*]')


def _visible(ch: str) -> bool:
    # Cc: control characters (NUL, newline, escape); Cf: format characters such as U+202E, which would show
    # "evil\u202egpj.exe" as "evilexe.jpg"; Zl/Zp: line and paragraph separators.
    return unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext}" if dot and stem and len(ext.encode()) <= 16 else ""
    stem = name[: len(name) - len(ext)]
    while len((stem + ext).encode()) > MAX_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .") + ext


def clean_filename(raw: str) -> str:
    """A safe display name, or InvalidInput `invalid_filename` if nothing usable is left."""
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if _visible(ch))
    name = re.split(r"[/\\]", name)[-1]  # the last component, whichever separator the client's system uses
    name = UNSAFE.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name).strip(" .")  # no "..", no hidden or trailing-dot names
    stem = name.split(".", 1)[0].upper()
    if stem in RESERVED:
        name = f"_{name}"
    name = _truncate(name)
    if not name:
        raise InvalidInput("the file name has no usable characters", field="filename", code="invalid_filename")
    return name


def content_disposition(name: str) -> str:
    """An attachment header value: an ASCII fallback plus the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
