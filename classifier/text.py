"""The text pipeline: normalise, segment with the domain dictionary, drop stop words.

Everything that reads a file (jieba's dictionary and its cache, the shipped
user dictionary and stop words, OpenCC's tables) happens once per process in
`warm_up()`, which the other functions call lazily. After it they are pure.

jieba's prefix dictionary takes about a second to build; it is cached as
``jieba.cache`` in ``$TRIAGE_CACHE_DIR`` (default ``~/.cache/complaint-triage``)
so later processes load it in a fraction of that (see `_load_jieba_cache`).
"""

from __future__ import annotations

import logging
import marshal
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jieba

RESOURCES_DIR = Path(__file__).with_name("resources")
USERDICT_PATH = RESOURCES_DIR / "userdict.txt"
STOPWORDS_PATH = RESOURCES_DIR / "stopwords.txt"
CACHE_DIR_ENV = "TRIAGE_CACHE_DIR"
JIEBA_CACHE_FILE = "jieba.cache"
NUMBER_TOKEN = "<num>"
# jieba's HMM guesses words missing from the dictionaries. Off: 1.5× faster, and
# the character n-gram features already cover unknown words (macro-F1 unchanged).
HMM = False

# Full-width ASCII (U+FF01–U+FF5E) and the ideographic space fold to ASCII.
_WIDTH_TABLE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$\n?", re.MULTILINE)
_HAS_WORD_CHAR = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
_NOT_WORD_CHARS = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_LONG_DIGITS = re.compile(r"\d{6,}")


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation to ASCII; U+3000 to a space."""
    return text.translate(_WIDTH_TABLE)


def cache_dir() -> Path:
    """Where jieba's dictionary cache lives (``$TRIAGE_CACHE_DIR`` overrides)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "complaint-triage"


@dataclass(frozen=True)
class _Loaded:
    normalize: Callable[[str], str]
    stopwords: frozenset[str]
    kept_numbers: frozenset[str]  # digit words of the user dictionary: 12315, 12345 …


_loaded: _Loaded | None = None
_lock = threading.Lock()


def warm_up() -> None:
    """Load dictionaries, stop words and the converter now rather than on first use."""
    _state()


def _state() -> _Loaded:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _load()
    return _loaded


def _load() -> _Loaded:
    normalize = _intake_normalizer() or _own_normalizer()
    normalize("預熱")  # a normaliser that loads lazily does it now, not in predict
    userdict_words = _init_jieba()
    stopwords = frozenset(
        line.strip().lower()
        for line in STOPWORDS_PATH.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    kept_numbers = frozenset(word for word in userdict_words if any(c.isdigit() for c in word))
    return _Loaded(normalize, stopwords, kept_numbers)


def _intake_normalizer() -> Callable[[str], str] | None:
    """Intake's quote stripping and normaliser, when those modules exist, so a raw
    training row becomes what intake hands to `predict` (on which they are no-ops)."""
    try:
        from worker.mail.normalize import normalize_text
    except ImportError:
        return None
    try:
        from worker.mail.quotes import strip_quoted
    except ImportError:
        return normalize_text
    return lambda text: normalize_text(strip_quoted(text))


def _own_normalizer() -> Callable[[str], str]:
    import opencc

    converter = opencc.OpenCC("t2s")

    def normalize(text: str) -> str:
        return converter.convert(_QUOTED_LINE.sub("", fold_width(text)))

    return normalize


def _init_jieba() -> list[str]:
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home: jieba falls back to the temp directory
        directory = None
    jieba.setLogLevel(logging.WARNING)
    if directory is not None:
        jieba.dt.tmp_dir = str(directory)
        jieba.dt.cache_file = JIEBA_CACHE_FILE
        _load_jieba_cache(directory / JIEBA_CACHE_FILE)
    jieba.dt.initialize()  # builds the dictionary and writes the cache unless loaded
    jieba.dt.load_userdict(str(USERDICT_PATH))
    lines = USERDICT_PATH.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip()]


def _load_jieba_cache(path: Path) -> None:
    """jieba's cache of its default dictionary, used as jieba uses it (whenever the file
    exists) but read in one piece: jieba's ``marshal.load`` on the open file reads it
    object by object, 0.55 s of every start; ``marshal.loads`` of its bytes takes 0.15 s.
    A missing or damaged file is left to ``initialize``, which rebuilds it."""
    try:
        jieba.dt.FREQ, jieba.dt.total = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return
    jieba.dt.initialized = True


def normalize(text: str) -> str:
    """Traditional → simplified, full-width folded, quoted reply lines dropped."""
    return _state().normalize(text or "")


def segment(text: str) -> list[str]:
    """jieba's raw segmentation (with the domain dictionary), whitespace dropped."""
    _state()
    return [token for token in jieba.dt.cut(text, HMM=HMM) if token.strip()]


def tokens(text: str) -> list[str]:
    """Feature tokens of already-normalised text: lower-cased, no stop words or
    punctuation, long numbers (phones, waybills) collapsed to one token."""
    state = _state()
    result = []
    for token in jieba.dt.cut(text, HMM=HMM):
        token = token.strip().lower()
        if not token or token in state.stopwords or not _HAS_WORD_CHAR.search(token):
            continue
        if len(token) >= 5 and sum(c.isdigit() for c in token) >= 5 and token not in state.kept_numbers:
            token = NUMBER_TOKEN
        result.append(token)
    return result


def char_text(text: str) -> str:
    """Text for character n-grams: clauses of word characters separated by spaces,
    long digit runs collapsed so waybill numbers do not flood the vocabulary."""
    text = _NOT_WORD_CHARS.sub(" ", text.lower())
    return _LONG_DIGITS.sub("#", text).strip()
