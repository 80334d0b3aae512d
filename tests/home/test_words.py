"""Plain words: the Flesch-Kincaid formula on known sentences, then every explanation of the
residents' app at grade 8 or below, and no word of the program's own in them."""

from __future__ import annotations

import re

import pytest

from rtcc.home import words
from rtcc.vocabulary import TIERS
from tests.home.readability import grade, sentences, syllables

MAX_GRADE = 8.0


@pytest.mark.parametrize(("word", "count"), [
    ("the", 1), ("cat", 1), ("camera", 3), ("video", 3), ("police", 2), ("neighbour", 2),
    ("Australian", 4), ("reptilian", 4), ("creature", 2), ("seemingly", 3), ("platypus", 3),
    ("nation", 2), ("table", 2), ("area", 3), ("people", 2), ("identify", 4), ("18", 1)])
def test_syllables_of_known_words(word: str, count: int) -> None:
    assert syllables(word) == count


def test_grades_of_known_sentences() -> None:
    # Wikipedia's example ("Flesch-Kincaid readability tests"): 13 words, 26 syllables, 13.1.
    assert grade("The Australian platypus is seemingly a hybrid of a mammal and reptilian "
                 "creature.") == pytest.approx(13.08, abs=0.01)
    # One-syllable words, six to a sentence: below the first grade.
    assert grade("The cat sat on the mat.") == pytest.approx(-1.45, abs=0.01)
    # 9 words, 11 syllables.
    assert grade("The quick brown fox jumps over the lazy dog.") == pytest.approx(2.34, abs=0.01)
    # Two sentences halve the words per sentence.
    assert sentences("One. Two!") == 2 and sentences("No stop at the end") == 1
    assert grade("The cat sat. The dog ran.") == pytest.approx(
        0.39 * 3 + 11.8 * 1 - 15.59, abs=0.01)


@pytest.mark.parametrize("k", [3, 5])
def test_every_explanation_reads_at_grade_8_or_below(k: int) -> None:
    texts = words.every_explanation(k)
    assert len(texts) > 15
    hard = [(round(grade(t), 1), t) for t in texts if grade(t) > MAX_GRADE]
    assert not hard, hard


def test_the_texts_use_no_word_of_the_program() -> None:
    raw = re.compile(r"\b(registry|tier|household|none|request-tier|live-tier|HTTP|40[0-9])\b|_")
    texts = words.every_explanation(3) + list(words.TIER_NAMES.values()) \
        + list(words.BAND_SHORT.values()) + list(words.WHY_WORDS.values()) \
        + list(words.ANSWER_WORDS.values()) + list(words.CHANGE_WORDS.values())
    for text in texts:
        assert not raw.search(text), text
    assert set(words.TIER_NAMES) == set(TIERS)
    assert words.direction(0) == "north" and words.direction(130) == "south-east"
    assert words.place(2, 18.4, 44) == "Home 2, 18 m to the north-east"
