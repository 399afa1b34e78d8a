"""Text as the classifier reads it, and which script the customer writes in.

Traditional characters become simplified so one model serves both, and
full-width ASCII is folded. NFKC is not used: it would also rewrite CJK
punctuation and compatibility ideographs the classifier should keep.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

import opencc

# U+FF01–U+FF5E are ASCII shifted by 0xFEE0; U+3000 is the ideographic space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"[ \t\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Share of Han characters OpenCC changes above which a text counts as traditional;
# simplified text keeps a few (於, 乾 in names) that t2s would change.
_TRADITIONAL_SHARE = 0.05

Script = Literal["simplified", "traditional"]


@cache
def _to_simplified() -> opencc.OpenCC:
    """One converter per process: loading its dictionaries takes milliseconds."""
    return opencc.OpenCC("t2s")


def fold_width(text: str) -> str:
    """Full-width ASCII letters, digits, signs and the ideographic space made half-width."""
    return text.translate(_HALF_WIDTH)


def tidy_whitespace(text: str) -> str:
    """Runs of spaces collapsed, lines trimmed, at most one blank line in a row."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalize_text(text: str) -> str:
    """Simplified, half-width, tidy text for classification."""
    return tidy_whitespace(_to_simplified().convert(fold_width(text)))


def detect_script(text: str) -> Script:
    """'traditional' when enough of the Han characters differ from their simplified form."""
    han = _HAN.findall(text)
    if not han:
        return "simplified"
    simplified = _to_simplified().convert("".join(han))
    # t2s maps character for character; strict=False only guards an odd phrase rule.
    changed = sum(1 for before, after in zip(han, simplified, strict=False) if before != after)
    return "traditional" if changed / len(han) > _TRADITIONAL_SHARE else "simplified"
