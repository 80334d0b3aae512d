"""Counting non-consenting people from a frame's ground truth (hand-worked cases)."""

import json

from rtcc.wall.exposure import Exposure, count_exposure

LIVE = {"hh-live"}


def consents(household: str) -> bool:
    return household in LIVE


def meta(*subjects: object) -> bytes:
    return json.dumps({"cam": "c", "seq": 1, "t": 1, "subjects": list(subjects)}).encode()


def person(household, masked=False, role="resident"):
    return {"id": "p", "household": household, "role": role, "d": 3.0, "band": "identify",
            "bbox": [0, 0, 1, 1], "masked": masked}


def test_hand_worked_mix():
    frame = meta(
        person("hh-live"),                      # consenting household: not exposed
        person("hh-other"),                     # another household, not live: exposed
        person(None, role="passer_by"),         # passer-by: nobody consented: exposed
        person("hh-other", masked=True),        # hidden by a privacy mask: not counted at all
        person("hh-live", role="visitor"),      # visitor of the live household: never agreed
        person("hh-live", role="delivery"),     # delivery to the live household: never agreed
        person("hh-live", role="dog_walker"),   # dog walker of the live household: consented
    )
    assert count_exposure(frame, consents) == Exposure(people=6, exposed=4)


def test_no_metadata_counts_nobody():
    assert count_exposure(b"", consents) == Exposure(0, 0)
    assert count_exposure(None, consents) == Exposure(0, 0)
    assert count_exposure(meta(), consents) == Exposure(0, 0)


def test_malformed_metadata_counts_nobody_rather_than_failing():
    assert count_exposure(b"{not json", consents) == Exposure(0, 0)
    assert count_exposure(b'{"subjects": 5}', consents) == Exposure(0, 0)
    assert count_exposure(b'[1]', consents) == Exposure(0, 0)
    assert count_exposure(meta("oops", person("x")), consents) == Exposure(1, 1)
