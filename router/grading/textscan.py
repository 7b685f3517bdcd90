"""Cheap, pure text scanners the graders and the streaming guard build on.

Holds: normalisation for fact matching (NFKC, casefold, whitespace and digit grouping),
fenced code block parsing, script counts (kana, Han, Latin) for language checks, the
degenerate-repetition detector `loop_detected`, the leaked-reasoning and refusal patterns,
and the n-gram copy measure (how much of a text is pasted from another).
Nothing here does I/O; every function is linear in the text it is given.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

# ---------------------------------------------------------------- normalisation

_SPACES = re.compile(r"\s+")
_DIGIT_GROUPS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")


def normalize(text: str) -> str:
    """NFKC, casefold, one space for any whitespace run, no thousands separators."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _DIGIT_GROUPS.sub("", _SPACES.sub(" ", text)).strip()


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def contains(haystack_norm: str, needle: str) -> bool:
    """Whether the normalised `needle` occurs in the already normalised `haystack_norm`.

    A needle that starts with an ASCII letter or digit must start a word ("hash" matches
    "hashed" but not "rehash"); one of three characters or fewer must be a whole word ("ai"
    does not match "aim", "8" not "80"). Other needles (Japanese) match as plain substrings.
    """
    n = normalize(needle)
    if not n:
        return False
    if not _is_word_char(n[0]):
        return n in haystack_norm
    whole = len(n) <= 3
    start = haystack_norm.find(n)
    while start != -1:
        end = start + len(n)
        if (start == 0 or not _is_word_char(haystack_norm[start - 1])) and (
            not whole or end == len(haystack_norm) or not _is_word_char(haystack_norm[end])
        ):
            return True
        start = haystack_norm.find(n, start + 1)
    return False


# ---------------------------------------------------------------- fenced code blocks


class CodeBlock(msgspec.Struct, frozen=True):
    """One fenced code block: its info string (language tag, lower case) and body."""

    lang: str
    body: str


_FENCE = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)"
    r"(?:^[ \t]{0,3}(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block (``` or ~~~); an unclosed last block runs to the end of text."""
    out: list[CodeBlock] = []
    for m in _FENCE.finditer(text):
        info = m.group("info").strip().split()
        out.append(CodeBlock(info[0].lower() if info else "", m.group("body").rstrip("\n")))
    return out


def strip_code(text: str) -> str:
    """The text with fenced blocks and `inline code` removed (for prose-only checks)."""
    return re.sub(r"`[^`\n]*`", " ", _FENCE.sub(" ", text))


# ---------------------------------------------------------------- scripts


class ScriptCounts(msgspec.Struct, frozen=True):
    kana: int
    han: int
    hangul: int
    latin: int

    @property
    def cjk(self) -> int:
        return self.kana + self.han


def script_counts(text: str) -> ScriptCounts:
    """Count kana, Han, Hangul and Latin letters (after NFKC, so full width is Latin)."""
    kana = han = hangul = latin = 0
    for ch in unicodedata.normalize("NFKC", text):
        o = ord(ch)
        if ch.isascii():
            latin += ch.isalpha()
        elif (0x3041 <= o <= 0x30FF and o not in (0x30FB, 0x30FC)) or 0x31F0 <= o <= 0x31FF:
            kana += 1
        elif 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
            han += 1
        elif 0xAC00 <= o <= 0xD7AF:
            hangul += 1
        elif ch.isalpha() and o < 0x250:
            latin += 1
    return ScriptCounts(kana, han, hangul, latin)


# ---------------------------------------------------------------- loops

LOOP_WINDOW = 2000
_KGRAM = 12


def _tail_period(text: str, max_period: int = 200, min_chars: int = 80) -> int:
    """The smallest period p <= max_period the tail of text repeats with, or 0.

    The periodic tail must span max(min_chars, 3 p) characters. One slice comparison per
    candidate period, so at most ~max_period * 3 * max_period character compares (in C).
    """
    n = len(text)
    for p in range(1, max_period + 1):
        span = max(min_chars, 3 * p)
        if span > n:
            break
        if text[n - 1] == text[n - 1 - p] and text[n - span + p :] == text[n - span : n - p]:
            return p
    return 0


def _duplicate_share(text: str) -> float:
    """Share of the text's k-grams (k=12, whitespace collapsed) that occurred before."""
    flat = _SPACES.sub(" ", text)
    total = len(flat) - _KGRAM + 1
    if total < 200:
        return 0.0
    distinct = len({flat[i : i + _KGRAM] for i in range(total)})
    return 1.0 - distinct / total


_SEGMENT = re.compile(r"[^\n。．！？!?]+")
_NOISE = re.compile(r"[\d\W_]+")


def repeated_segment(text: str, min_count: int = 4, min_share: float = 0.3) -> str:
    """A line or sentence repeated min_count+ times in a row, the run covering min_share of
    the text, or "". Digits and punctuation are ignored ("1. foo", "2. foo" repeat); lines
    of under 4 letters are skipped. Runs only: code's recurring `return None` is no loop."""
    size = max(len(text), 1)
    prev, run, run_chars = "", 0, 0
    for m in _SEGMENT.finditer(text):
        key = _NOISE.sub("", m.group().casefold())
        if len(key) < 4:
            continue
        if key == prev:
            run, run_chars = run + 1, run_chars + len(m.group())
        else:
            prev, run, run_chars = key, 1, len(m.group())
        if run >= min_count and run_chars / size >= min_share:
            return key
    return ""


def loop_reason(text: str, window: int = LOOP_WINDOW) -> str:
    """Why the last `window` characters of text look like a degenerate loop, or ""."""
    tail = text[-window:]
    period = _tail_period(tail)
    if period:
        return f"the text ends repeating a {period}-character unit"
    segment = repeated_segment(tail)
    if segment:
        return f"a line repeats over much of the text: {segment[:40]!r}"
    share = _duplicate_share(tail)
    if share >= 0.6:
        return f"{share:.0%} of the text repeats earlier text"
    return ""


def loop_detected(text: str, window: int = LOOP_WINDOW) -> bool:
    """Whether the text (its last `window` chars) has fallen into degenerate repetition.

    Meant to be called on a growing streamed text every few tokens. Cost is bounded by the
    window, not the text: measured at ~0.5 ms for a 2,000-character window on one core (a
    tail-period scan of <= 200 slice compares, one pass of line counting, one set of
    ~2,000 12-grams). Three signals, any one suffices: the tail repeats a unit of 1-200
    chars exactly (>= 3 times, >= 80 chars); one line or sentence (digits and punctuation
    ignored) recurs >= 4 times in a row, the run covering >= 30% of the window; >= 60% of
    the window's 12-grams are repeats.
    """
    return bool(loop_reason(text, window))


# ---------------------------------------------------------------- leaked reasoning

_REASONING_ANYWHERE = re.compile(
    r"</?think(?:ing)?>|thinking process|thought process:|"
    r"用户|我需要|让我(?:想|来|先)|思考过程|思考プロセス",
    re.IGNORECASE,
)
_REASONING_PREAMBLE = re.compile(
    r"\A\W*(?:"
    r"(?:okay|ok|alright|all right|hmm+|so|well)[,.!]?\s+(?:so\s+)?"
    r"(?:the user|i need to|i should|let me (?:think|figure|see)|let's see|i'm being asked)|"
    r"the user (?:wants|is asking|asked|has asked|would like)|"
    r"let me (?:think|figure|analy[sz]e|break)|"
    r"first,? i (?:need|should|will) (?:to )?(?:understand|figure|think|analy[sz]e)|"
    r"まず、?ユーザー|ユーザー(?:さん)?(?:は|が)[^。\n]{0,40}"
    r"(?:求めて|望んで|知りたが|依頼して|尋ねて|質問して|聞いて|頼んで)|"
    r"(?:まず|では)、?(?:質問|問題|依頼|要求)(?:を|の内容を)(?:理解|整理|分析)|"
    r"好的，|嗯，|首先，"
    r")",
    re.IGNORECASE,
)


def reasoning_leak(text: str) -> str:
    """The leaked-reasoning marker found in text (think tags, a reasoning preamble), or ""."""
    m = _REASONING_ANYWHERE.search(text) or _REASONING_PREAMBLE.search(text.lstrip())
    return m.group().strip() if m else ""


# ---------------------------------------------------------------- refusals

_EN_TASK_VERB = (
    r"(?:help|assist|do|comply|provide|answer|fulfil+|complete|create|write|translate|"
    r"summari[sz]e|rewrite|generate|respond|support)"
)
_REFUSAL = re.compile(
    r"\A\W*(?:(?:i['’]?m|i am) (?:so |very |really )?sorry|sorry|unfortunately|i apologi[sz]e)"
    r"[^.\n]{0,60}?\b(?:can(?:no|['’])t|can not|won['’]?t|unable to|not able to) "
    rf"{_EN_TASK_VERB}\b|"
    r"\A\W*(?:i|we) (?:can(?:no|['’])t|can not|won['’]?t|am unable to|['’]m unable to|"
    rf"am not able to) {_EN_TASK_VERB}\b|"
    r"\bas an ai(?: language model| assistant)?,? i (?:can(?:no|['’])t|don['’]?t|am unable)|"
    r"\A\W*(?:申し訳(?:ありません|ございません)が|すみませんが|恐れ入りますが|残念ながら)、?"
    r"[^。\n]{0,30}?(?:ご依頼|ご要望|リクエスト|お手伝い|お答え|お応え|回答|ご質問|この(?:内容|件)|"
    r"その(?:内容|件))[^。\n]{0,15}?(?:できません|できかねます|いたしかねます)|"
    r"\A\W*(?:その|この)?(?:ご依頼|ご要望|リクエスト|ご質問)(?:に|には)(?:お応え|お答え|対応)"
    r"(?:できません|できかねます|いたしかねます)",
    re.IGNORECASE,
)


def refusal(text: str) -> str:
    """The refusal the answer opens with ("I'm sorry, but I can't help with that", 「申し訳
    ありませんが、そのご依頼にはお応えできません」), or "". Apologies inside a mail or a rewrite
    ("I'm sorry I can't make it") are not refusals: the refused thing must be the request."""
    m = _REFUSAL.search(text.strip()[:400])
    return m.group().strip() if m else ""


# ---------------------------------------------------------------- copying

_UNITS = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?|[^\W_a-z0-9]")
COPY_N = 4


def copy_units(text: str) -> list[str]:
    """The text as units for copy detection: Latin words and digit runs, and single
    characters of other scripts (Japanese has no spaces); punctuation dropped."""
    return _UNITS.findall(normalize(text))


def copied_share(text: str, original: str, n: int = COPY_N) -> float:
    """Share of `text`'s n-grams of units (4 words, or 4 Japanese characters) found verbatim
    in `original`: 1.0 for a copy, near 0 for text written anew."""
    units, seen = copy_units(text), copy_units(original)
    grams = [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]
    if not grams:
        return 0.0
    pool = {tuple(seen[i : i + n]) for i in range(len(seen) - n + 1)}
    return sum(g in pool for g in grams) / len(grams)
