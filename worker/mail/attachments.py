"""Attachment names that are safe to use as file names on disk.

The name comes from the sender and may hold paths (../../etc/passwd),
control characters or Windows device names; Chinese is kept as written.
"""

from __future__ import annotations

import re
import unicodedata

FALLBACK_NAME = "attachment.bin"
# ext4 and most file systems allow 255 bytes; leave room for a " (2)" suffix.
MAX_NAME_BYTES = 200
_FORBIDDEN = re.compile(r'[<>:"|?*]')
_DOTS = re.compile(r"\.{2,}")
_WINDOWS_DEVICES = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_EXTENSION = re.compile(r"\.[0-9A-Za-z]{1,10}$")


def safe_filename(name: str) -> str:
    """The last path component of `name`, cleaned; FALLBACK_NAME when nothing is left."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[\\/]", name)[-1]
    # Control and format characters (NUL, RTL override that disguises ".exe").
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = _DOTS.sub(".", _FORBIDDEN.sub("_", name))
    name = " ".join(name.split()).lstrip(". ").rstrip(". ")
    if not name:
        return FALLBACK_NAME
    if _WINDOWS_DEVICES.match(name):
        name = "_" + name
    return _truncate(name, MAX_NAME_BYTES)


def _truncate(name: str, max_bytes: int) -> str:
    """Cut the stem, not the extension, to fit `max_bytes` of UTF-8."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    match = _EXTENSION.search(name)
    extension = match.group() if match else ""
    stem = name[: len(name) - len(extension)]
    budget = max_bytes - len(extension.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return (stem or "attachment") + extension


def unique_names(names: list[str]) -> list[str]:
    """Names made distinct within one mail: a second 投诉.pdf becomes 投诉 (2).pdf."""
    seen: set[str] = set()
    unique = []
    for name in names:
        candidate, number = name, 1
        while candidate.lower() in seen:
            number += 1
            match = _EXTENSION.search(name)
            extension = match.group() if match else ""
            candidate = f"{name[: len(name) - len(extension)]} ({number}){extension}"
        seen.add(candidate.lower())
        unique.append(candidate)
    return unique
