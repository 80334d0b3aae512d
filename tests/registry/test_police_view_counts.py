"""Counts of people's choices as each audience may read them (rtcc.registry.police_view), worked
by hand for k = 3."""

from __future__ import annotations

import itertools

import pytest

from rtcc.registry.police_view import HIDDEN_COUNT, Audience


def test_police_counts_are_suppressed_below_k() -> None:
    police = Audience("operator")
    assert [police.count(n) for n in range(5)] == \
        ["fewer than 3", "fewer than 3", "fewer than 3", 3, 4]
    assert Audience("auditor").count(1) == 1


@pytest.mark.parametrize(("n", "among", "shown"), [
    (0, 5, HIDDEN_COUNT), (5, 5, HIDDEN_COUNT),            # fewer than 2k in the group
    (0, 6, "fewer than 3"), (2, 6, "fewer than 3"),
    (3, 6, 3),
    (4, 6, "more than 3"), (6, 6, "more than 3"),          # "6 of these 6" would name everyone
    (3, 7, 3), (4, 7, 4), (5, 7, "more than 4"),
])
def test_a_count_within_a_group_the_reader_can_name_keeps_both_ends_hidden(
        n: int, among: int, shown: int | str) -> None:
    assert Audience("resident", household="hh-1").count_among(n, among) == shown
    assert Audience("admin").count_among(n, among) == n


@pytest.mark.parametrize("among", range(0, 12))
def test_no_answer_ever_fixes_one_members_choice(among: int) -> None:
    # The attack: the reader names every member of the group; an answer gives one member's
    # choice away when, among all the counts that produce it, that member's choice is the
    # same. For counts this means: every shown answer must be possible both with 0 < n and
    # with n < among, i.e. never only n == 0 or only n == among.
    reader = Audience("resident", household="hh-1")
    answers: dict[int | str, list[int]] = {}
    for n in range(among + 1):
        answers.setdefault(reader.count_among(n, among), []).append(n)
    for shown, counts in answers.items():
        if among == 0:
            continue
        assert any(c > 0 for c in counts) and any(c < among for c in counts), (shown, counts)
    assert len(list(itertools.chain(*answers.values()))) == among + 1
