"""The Flesch-Kincaid grade level of an English text, for the residents' app's words.

grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59 (Kincaid et al., 1975).
Syllables are counted by the rules of Greg Fast's Lingua::EN::Syllable (vowel groups, less a
silent final ``e``, with its corrections), with three of our own where it miscounts words these
pages use: a consonant before a final ``le`` ("people", "table", "little"; it had ``bl`` and
doubled consonants only), ``deo`` ("video") and a final ``ea`` after a consonant ("area").
"""

from __future__ import annotations

import re

_SUBTRACT = [re.compile(p) for p in (
    r"cial", r"tia", r"cius", r"cious", r"giu", r"ion", r"iou", r"sia$", r".ely$")]
_ADD = [re.compile(p) for p in (
    r"ia", r"riet", r"dien", r"iu", r"io", r"ii", r"[aeiou]{3}", r"^mc", r"ism$", r"[^l]lien",
    r"^coa[dglx].", r"[^gq]ua[^auieo]", r"dnt$", r"deo")]
_ORIGINAL_ADD = [re.compile(p) for p in (r"[^aeiouy]le$", r".[^aeiou]ea$")]
"""Rules on the word before its final ``e`` is dropped."""
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def syllables(word: str) -> int:
    w = word.lower().replace("’", "'").split("'")[0]
    if not w:
        return 0
    if w.isdigit():
        return 1
    whole = w
    w = re.sub(r"e$", "", w)
    count = len([g for g in re.split(r"[^aeiouy]+", w) if g])
    count += sum(1 for p in _ORIGINAL_ADD if p.search(whole))
    count -= sum(1 for p in _SUBTRACT if p.search(w))
    count += sum(1 for p in _ADD if p.search(w))
    return max(1, count)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> int:
    return max(1, len(_SENTENCE_END.findall(text.strip() + ("" if text.strip()[-1:] in ".!?"
                                                           else "."))))


def grade(text: str) -> float:
    ws = words(text)
    if not ws:
        return 0.0
    syl = sum(syllables(w) for w in ws)
    return 0.39 * (len(ws) / sentences(text)) + 11.8 * (syl / len(ws)) - 15.59
