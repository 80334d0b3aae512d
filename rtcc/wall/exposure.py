"""The live exposure counter of a tile: how many non-consenting people a frame shows.

A household is *non-consenting* for a stream when it has not opted in to ``live`` itself
(ARCHITECTURE.md). From a frame's ground truth (the SEI JSON the hub stored in ``meta``) the wall
counts the people in view and, among them, those who never agreed: only the residents (and
their dog walkers) of a live-consenting household consented; everyone else is non-consenting,
including visitors and delivery drivers at a live household (the household consented for itself,
not for its guests) and passers-by. The analyzer uses the same rule and the same
:data:`rtcc.vocabulary.HOUSEHOLD_ROLES`, so a tile's counter and the report agree.
Subjects hidden by a privacy mask are not counted: the operator cannot see them.

Pure: the caller passes a function that says whether a household consents to live now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from rtcc.vocabulary import HOUSEHOLD_ROLES


@dataclass(frozen=True, slots=True)
class Exposure:
    people: int
    """Unmasked subjects in view."""
    exposed: int
    """Unmasked subjects whose household is not a live-consenting household."""


NOBODY = Exposure(0, 0)


def count_exposure(meta: bytes | str | None, household_live: Callable[[str], bool]) -> Exposure:
    """Count people and non-consenting people in one frame's ground truth.

    ``meta`` is the JSON document of the SEI (empty or None when the source carried none, then
    nothing is known and nobody is counted). Malformed metadata counts as nobody rather than
    failing a live stream; the hub validated it when it parsed the SEI.
    """
    if not meta:
        return NOBODY
    try:
        doc = json.loads(meta)
    except ValueError:
        return NOBODY
    subjects = doc.get("subjects") if isinstance(doc, dict) else None
    if not isinstance(subjects, list):
        return NOBODY
    people = exposed = 0
    for subject in subjects:
        if not isinstance(subject, dict) or subject.get("masked"):
            continue
        people += 1
        household = subject.get("household")
        consented = (subject.get("role") in HOUSEHOLD_ROLES and isinstance(household, str)
                     and household_live(household))
        if not consented:
            exposed += 1
    return Exposure(people, exposed)
