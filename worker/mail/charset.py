"""Turning a mail's bytes into text when its charset labels cannot be trusted.

Chinese mail is often labelled gb2312 while holding GBK characters (镕, 喆),
labelled big5 while holding HKSCS ones, labelled gbk while being UTF-8, or
not labelled at all. Decoding tries the declared label strictly, checks
that the result reads like text, and otherwise picks among the likely
codecs. Every function returns the text with notes on what it had to fix.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import codecs
import re
import urllib.parse
from functools import cache, lru_cache
from typing import NamedTuple

import charset_normalizer


class Decoded(NamedTuple):
    text: str
    notes: tuple[str, ...] = ()


# Labels naming a subset of what clients really send: decode as the superset.
_SUPERSET_CODECS = {
    **dict.fromkeys(
        ("gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn",
         "x-euc-cn", "csgb2312", "gb_2312-80", "chinese", "gb18030"),
        "gb18030",
    ),
    **dict.fromkeys(("big5", "x-big5", "csbig5", "cn-big5", "big5-hkscs"), "big5hkscs"),
    # An "ascii" label on 8-bit bytes is nearly always UTF-8 written by a script.
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968"), "utf-8"),
    # As browsers do: Latin-1 labels mean windows-1252, whose gaps fail loudly.
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1"), "cp1252"),
}
_CHINESE_CODECS = frozenset({"gb18030", "big5hkscs", "cp950", "hz"})
_SEVEN_BIT_CODECS = frozenset({"hz", "utf-7", "iso2022_jp", "iso2022_kr"})
# Tried in this order when the label is missing or wrong.
_LIKELY_CODECS = ("utf-8", "gb18030", "big5hkscs")
_NORMALIZER_CJK = ["utf_8", "gb18030", "big5hkscs"]
_CUT_PENALTY = 0.3


@lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec to decode bytes labelled `label` with, or None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _SUPERSET_CODECS.get(name, name)
    try:
        # Rejects unknown names and bytes-to-bytes codecs such as "base64".
        b"".decode(name)
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        return None


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):
        return None


def _strict_allowing_cut(data: bytes, codec: str) -> tuple[str | None, bool]:
    """Strict decoding, or of all but a character cut off at the end (truncated mail or word).

    The flag says whether an incomplete last character was dropped.
    """
    text = _strict(data, codec)
    if text is not None:
        return text, False
    try:
        # Not final: an incomplete sequence at the end is held back, anything invalid raises.
        return codecs.getincrementaldecoder(codec)().decode(data, final=False), True
    except (UnicodeError, LookupError):
        return None, False


def _is_utf8_beyond_latin(data: bytes) -> bool:
    """Valid UTF-8 with a 3-byte character: legacy CJK bytes almost never are."""
    text = _strict(data, "utf-8")
    return text is not None and any(ord(ch) >= 0x800 for ch in text)


# Characters that appear when CJK bytes are read with the wrong CJK codec:
# spacing accents, Greek, Cyrillic, box drawing, kana, bopomofo, vertical forms, rare ideographs.
_MISREAD_CJK = re.compile(
    "[\u02b0-\u02ff\u0370-\u04ff\u2500-\u257f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf"
    "\uac00-\ud7af\uf900-\ufaff\ufe10-\ufe1f\ufe30-\ufe4f\uff61-\uff9f\U00020000-\U0003ffff]"
)
_HAN = re.compile("[\u4e00-\u9fff]")
_NEVER_TEXT = re.compile("[\ufffd\x80-\x9f\ue000-\uf8ff]")
_NON_ASCII_RUN = re.compile("[^\x00-\x7f]{4,}")


def oddness(text: str, codec: str = "") -> float:
    """Share of the non-ASCII characters that real mail text rarely contains."""
    non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
    if not non_ascii:
        return 0.0
    if _NEVER_TEXT.search(text):
        return 1.0
    if codec == "utf-8":
        return _utf8_mixed_scripts(text)
    if codec.startswith(("cp125", "iso8859", "latin", "mac")):
        # CJK bytes read as Latin come out as long runs of accented letters.
        return 1.0 if _NON_ASCII_RUN.search(text) else 0.0
    # Any other multibyte codec (a guess such as shift_jis) is judged as CJK text.
    symbols, rare, _ = _misread_signals(text)
    return (symbols + rare) / non_ascii


def _misread_signals(text: str) -> tuple[int, int, int]:
    """(misread symbols, rare ideographs, all ideographs): GBK read as Big5 gives rare ones."""
    han = _HAN.findall(text)
    common = _common_han()
    return len(_MISREAD_CJK.findall(text)), sum(ch not in common for ch in han), len(han)


@cache
def _common_han() -> frozenset[str]:
    """GB2312 level 1 and Big5 level 1: the characters everyday Chinese is written with."""
    pairs = [bytes((lead, trail)) for lead in range(0xB0, 0xD8) for trail in range(0xA1, 0xFF)]
    common = {_strict(pair, "gb2312") for pair in pairs}
    big5_trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    pairs = [bytes((lead, trail)) for lead in range(0xA4, 0xC7) for trail in big5_trails]
    common |= {_strict(pair, "big5") for pair in pairs if pair < b"\xc6\x7f"}
    return frozenset(common - {None})


# Blocks that GBK pairs (lead C2–DF, trail 80–BF) land in when they happen to be
# valid UTF-8: 谢女士 reads as "лŮʿ". Real text stays within one of them.
_TWO_BYTE_STARTS = (0x80, 0x250, 0x370, 0x400, 0x530, 0x590, 0x600, 0x700)
_TWO_BYTE_BLOCKS = ("latin", "modifiers", "greek", "cyrillic", "armenian", "hebrew",
                    "arabic", "other")


def _utf8_mixed_scripts(text: str) -> float:
    """0.5 when two-byte characters mix several scripts, as GBK read as UTF-8 does."""
    blocks = {_TWO_BYTE_BLOCKS[bisect.bisect_right(_TWO_BYTE_STARTS, ord(ch)) - 1]
              for ch in text if 0x80 <= ord(ch) < 0x800}
    return 0.5 if len(blocks) >= 2 and blocks != {"latin"} else 0.0


def looks_misdecoded(text: str, codec: str = "") -> bool:
    """True for text holding replacement characters or typical mojibake.

    One stray Greek letter in a long text is allowed (a unit like μg is real),
    and so are a few rare characters (names like 喆); GBK read as Big5 is
    half rare characters.
    """
    if codec not in _CHINESE_CODECS:
        return oddness(text, codec) >= 0.5
    if _NEVER_TEXT.search(text):
        return True
    non_ascii = sum(1 for ch in text if ord(ch) > 0x7F) or 1
    symbols, rare, han = _misread_signals(text)
    return (symbols / non_ascii > 0.15 or (symbols >= 2 and symbols / non_ascii > 0.08)
            or (rare >= 2 and rare / han > 0.25)
            or (symbols + rare >= 2 and (symbols + rare) / non_ascii > 0.2))


def decode_bytes(data: bytes, declared: str | None) -> Decoded:
    """Decode a part's bytes, trusting `declared` only when the result reads like text."""
    codec = codec_for(declared)
    notes: list[str] = []
    if declared and codec is None:
        notes.append(f"unknown charset label {declared!r}")
    if codec in _SEVEN_BIT_CODECS:
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, tuple(notes))
    if data.isascii():
        return Decoded(data.decode("ascii"), tuple(notes))
    if codec != "utf-8" and _is_utf8_beyond_latin(data):
        if declared:
            notes.append(f"labelled {declared!r} but the bytes are UTF-8")
        return Decoded(data.decode("utf-8"), tuple(notes))
    if codec:
        text, cut = _strict_allowing_cut(data, codec)
        # Bytes that are valid UTF-8 and labelled so are UTF-8, whatever they say.
        if text is not None and ((codec == "utf-8" and not cut) or not looks_misdecoded(text, codec)):
            if cut:
                notes.append("a character cut off at the end was dropped")
            return Decoded(text, (*notes, *_superset_note(text, declared, codec)))
    text, guessed = _guess(data, codec)
    if guessed == codec:
        notes.extend(_superset_note(text, declared, codec))
    elif declared:
        notes.append(f"labelled {declared!r} but reads as {guessed}")
    else:
        notes.append(f"no charset label; detected {guessed}")
    return Decoded(text, tuple(notes))


def _superset_note(text: str, declared: str | None, codec: str) -> list[str]:
    """A note when the text holds characters the label's own codec (gb2312) lacks."""
    literal = (declared or "").strip().strip("\"'").lower()
    if literal == codec or _strict(b"", literal) is None:
        return []
    try:
        text.encode(literal)
    except UnicodeError:
        return [f"labelled {declared!r} but holds characters beyond it; decoded as {codec}"]
    return []


def _guess(data: bytes, declared_codec: str | None) -> tuple[str, str]:
    """The least odd strict decoding among the declared and the likely codecs."""
    candidates: list[tuple[float, int, str, str]] = []
    for rank, codec in enumerate(dict.fromkeys((declared_codec, *_LIKELY_CODECS))):
        text, cut = _strict_allowing_cut(data, codec) if codec else (None, False)
        if text is not None:
            # A whole decoding beats one that had to drop bytes, unless it is mojibake.
            candidates.append((oddness(text, codec) + (_CUT_PENALTY if cut else 0), rank, codec, text))
    if not candidates or min(candidates)[0] > 0:
        for rank, match in enumerate(_normalizer_matches(data), start=len(candidates)):
            codec = codec_for(match.encoding) or match.encoding
            text = str(match)
            candidates.append((oddness(text, codec), rank, codec, text))
    if candidates:
        _, _, codec, text = min(candidates)
        return text, codec
    fallback = declared_codec or "gb18030"
    return data.decode(fallback, errors="replace"), f"{fallback} with undecodable bytes replaced"


def _normalizer_matches(data: bytes) -> list:
    """charset-normalizer's best guess, asked about the CJK codecs first."""
    best = charset_normalizer.from_bytes(data, cp_isolation=_NORMALIZER_CJK).best()
    if best is None:
        best = charset_normalizer.from_bytes(data).best()
    # Any even-length junk "decodes" as UTF-16; only a byte-order mark makes it so.
    if best is None or (best.encoding.startswith("utf_16") and not best.bom):
        return []
    return [best]


# --- headers (RFC 2047 encoded words, RFC 2231 parameters) -----------------

_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(raw: str) -> str:
    """A header value on one line, as RFC 5322 unfolding defines it."""
    return _FOLD.sub("", raw).replace("\r", "").replace("\n", "")


def raw_bytes(header_text: str) -> bytes:
    """The bytes behind header text parsed from bytes (8-bit bytes arrive surrogate-escaped)."""
    return header_text.encode("utf-8", "surrogateescape")


def _word_bytes(encoding: str, payload: str) -> bytes:
    ascii_payload = payload.encode("ascii", "ignore")
    if encoding.lower() == "q":
        return binascii.a2b_qp(ascii_payload, header=True)
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", ascii_payload)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]  # a lone trailing character carries no whole byte
    return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _outside_words(text: str) -> bytes | str:
    """Bytes when the text carries surrogate-escaped 8-bit bytes, else the text itself."""
    return raw_bytes(text) if _ESCAPED_BYTE.search(text) else text


def _header_pieces(value: str) -> list[tuple[bytes | str, str | None]]:
    """(bytes, charset label) runs; label None for text outside encoded words."""
    pieces: list[tuple[bytes | str, str | None]] = []
    position = 0
    for word in _ENCODED_WORD.finditer(value):
        between = value[position:word.start()]
        after_word = bool(pieces) and pieces[-1][1] is not None
        # Whitespace between two encoded words is folding, not text (RFC 2047 §6.2).
        if between and not (after_word and between.isspace()):
            pieces.append((_outside_words(between), None))
        label = word.group(1).lower()
        data = _word_bytes(word.group(2), word.group(3))
        same_charset = pieces and pieces[-1][1] is not None and (
            (codec_for(pieces[-1][1]) or pieces[-1][1]) == (codec_for(label) or label))
        if same_charset:
            # Joined before decoding: clients split words inside a multibyte character.
            pieces[-1] = (pieces[-1][0] + data, pieces[-1][1])
        else:
            pieces.append((data, label))
        position = word.end()
    if position < len(value):
        pieces.append((_outside_words(value[position:]), None))
    return pieces


def decode_header_value(raw: str) -> Decoded:
    """A header's text with encoded words and raw 8-bit bytes decoded."""
    texts: list[str] = []
    notes: list[str] = []
    for data, label in _header_pieces(unfold(raw)):
        if isinstance(data, str):
            texts.append(data)
            continue
        if label is None and data.isascii():
            texts.append(data.decode("ascii"))
            continue
        decoded = decode_bytes(data, label)
        texts.append(decoded.text)
        notes.extend(decoded.notes)
        if label is None:
            notes.append("raw 8-bit bytes in header")
    return Decoded("".join(texts), tuple(dict.fromkeys(notes)))


def split_header_params(raw: str) -> tuple[str, list[tuple[str, str]]]:
    """A structured header's main value (lower-cased) and its (name, value) parameters."""
    fields: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in unfold(raw):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            fields.append("".join(current))
            current = []
            continue
        current.append(ch)
    fields.append("".join(current))
    params = []
    for field in fields[1:]:
        name, sep, value = field.partition("=")
        if sep and name.strip():
            params.append((name.strip().lower(), _unquote(value.strip())))
    return fields[0].strip().lower(), params


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def header_param(raw: str, name: str) -> Decoded | None:
    """Parameter `name` of a structured header, with RFC 2231 and RFC 2047 decoded."""
    _, params = split_header_params(raw)
    extended = _rfc2231_value(params, name.lower())
    if extended is not None:
        return extended
    for key, value in params:
        if key == name.lower():
            return decode_header_value(value)
    return None


_SECTION = re.compile(r"^(?P<name>[^*]+)(?:\*(?P<index>\d+))?(?P<star>\*)?$")


def _rfc2231_value(params: list[tuple[str, str]], name: str) -> Decoded | None:
    """Join `name*0*=`, `name*1=`… (or a lone `name*=`) and decode the bytes."""
    sections: dict[int, tuple[str, bool]] = {}
    for key, value in params:
        match = _SECTION.match(key)
        if match and match["name"] == name and (match["index"] or match["star"]):
            sections.setdefault(int(match["index"] or 0), (value, bool(match["star"])))
    if not sections:
        return None
    label = None
    chunks: list[bytes] = []
    for index in sorted(sections):
        value, encoded = sections[index]
        if encoded and index == min(sections) and value.count("'") >= 2:
            label, _, value = value.split("'", 2)
        chunks.append(urllib.parse.unquote_to_bytes(raw_bytes(value)) if encoded else raw_bytes(value))
    return decode_bytes(b"".join(chunks), label or None)
