"""The follow-up detector's marked features: word lists a regex finds in a turn's edges.

Apart from `router.routing.classifier_turns` (the detector's other features and its fitting)
because these are the costliest part of a verdict to read and have their own shortcut: a
long alternation of English words is slow in `re` when nothing matches (each alternative is
tried at each position), so on an ASCII text a marker's regex runs only when the text holds
one of the words its English alternatives start with, as a whole word. The answers are the
regexes' own (`test_classifier_marks` checks the shortcut against them). Pure.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_JA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_DEICTIC = re.compile(
    r"\b(?:it|that|this|these|those|them|same|above|again|one)\b"
    r"|それ|これ|あれ|その|この|今の|さっき|上の|同じ"
)
_EDIT = re.compile(
    r"\b(?:shorter|longer|more|less|simpler|continue|keep|next|another|redo|rewrite|make"
    r"|add|remove|drop|change|rename|fix|use|try|too|instead|also|only|just|again|what about"
    r"|and)\b"
    r"|もっと|もう少し|もうちょ|短く|長く|続き|続け|変えて|直して|足して|追加|減らして|やり直"
    r"|もう一|別の|さらに|少し|にして|で$|は\?$"
    r"|いらない|不要|消して|削って|外して|入れて|加えて|付けて|つけて|も(?:書いて|お願い|して)"
)
_LEAD = re.compile(  # a turn that opens by pointing back: "this one too:", 「これも」, "same for"
    r"^(?:and |now |ok |also )?(?:this one|these|that one|same|again|more|another|next)\b"
    r"|^(?:これ|こっち|こちら|それ|あれ)も|^(?:次|今度|同じ)"
)
_MATERIAL = re.compile(r"[:：\n]\s*\S.{14,}")  # new material after a colon or a line break
_SWITCH = re.compile(  # a topic-change marker
    r"\b(?:by the way|btw|unrelated|off topic|switching gears|on another note|moving on"
    r"|(?:different|new|next|another|separate|random) (?:topic|thing|question|request|task|subject)"
    r"|something (?:else|new|different)|chang(?:e|ing) (?:the )?(?:subject|topic)"
    r"|totally different)\b"
    r"|話は変わ|話変わ|ところで|別件|関係ない|話題を変え|それとは別|ちなみに|全然(?:違|別)|まったく別"
    r"|(?:別の|違う|新しい|次の)(?:質問|お願い|話|話題|件|依頼)"
)
_WORD_RUN = re.compile(r"\w+")


class Marker(NamedTuple):
    """A regex and the words its English alternatives start with: on an ASCII text it can
    match only where one of them stands as a whole word (each alternative starts at `\\b`
    and its first word ends at a space or at `\\b`), and its other alternatives are not ASCII."""

    regex: re.Pattern[str]
    firsts: frozenset[str]

    def found(self, text: str, words: set[str]) -> bool:
        """Whether the regex finds a match in `text`, whose `whole_words` are `words`."""
        if text.isascii() and self.firsts.isdisjoint(words):
            return False
        return self.regex.search(text) is not None


def whole_words(text: str) -> set[str]:
    """An ASCII text's whole words (`\\w+` runs), what `Marker.found` reads; none for any
    other text, where it runs the regex."""
    return set(_WORD_RUN.findall(text)) if text.isascii() else set()


def _firsts(words: str) -> frozenset[str]:
    return frozenset(words.split())


DEICTIC = Marker(_DEICTIC, _firsts("it that this these those them same above again one"))
EDIT = Marker(
    _EDIT,
    _firsts(
        "shorter longer more less simpler continue keep next another redo rewrite make add"
        " remove drop change rename fix use try too instead also only just again what and"
    ),
)
SWITCH = Marker(
    _SWITCH,
    _firsts(
        "by btw unrelated off switching on moving different new next another separate random"
        " something change changing totally"
    ),
)


def marked_features(text: str, edges: str, before: str) -> list[float]:
    """The features a regex marks (in `classifier_turns.FEATURES` order), each 0 or 1: the
    language changed from the turn before, a deictic word, an edit verb, a topic-change
    marker, an opening that points back, a brief edit, new material after a colon or a line."""
    words = whole_words(edges)
    edit = EDIT.found(edges, words)
    deictic = DEICTIC.found(edges, words)
    return [
        float(_has_japanese(text) != _has_japanese(before)),
        float(deictic),
        float(edit),
        float(SWITCH.found(edges, words)),
        float(_LEAD.search(edges) is not None),
        float(len(text) <= 48 and (edit or deictic)),
        float(_MATERIAL.search(text[:400]) is not None),
    ]


def _has_japanese(text: str) -> bool:
    head = text[:200]
    return not head.isascii() and _JA.search(head) is not None
