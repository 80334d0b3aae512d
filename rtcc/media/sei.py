"""Ground truth carried inside the video: the SEI message of the ARCHITECTURE contract.

Every simulated access unit carries one SEI NAL unit with a ``user_data_unregistered`` message
(payload type 5): the 16-byte UUID b7c8a1e2-5f3d-4e6a-9b1c-72746363a001, then compact UTF-8 JSON

    {"cam": id, "seq": n, "t": capture unix time in microseconds,
     "subjects": [{"id", "household" (null for passers-by), "role", "d" (metres, 0.1 m),
                   "band" (or null), "bbox": [x, y, w, h] pixels, "masked": bool}]}

The hub reads it without decoding video (:func:`find_ground_truth`); the analyzer therefore sees
exactly what was delivered.  SEI from other sources (x264's version banner, closed captions) is
skipped, not an error.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rtcc.errors import MediaError
from rtcc.media.h264 import NAL_SEI, VCL_TYPES, escape_rbsp, unescape_rbsp
from rtcc.vocabulary import PERSON_ROLES, PersonRole

GROUND_TRUTH_UUID: bytes = uuid.UUID("b7c8a1e2-5f3d-4e6a-9b1c-72746363a001").bytes

#: SEI payloadType of user_data_unregistered (H.264 D.1.6).
USER_DATA_UNREGISTERED = 5

# JSON string quoting exactly as json.dumps(ensure_ascii=False) does it (the C version).
_quote = json.encoder.encode_basestring  # type: ignore[attr-defined]

_ROLES: frozenset[PersonRole] = frozenset(PERSON_ROLES)  # a set: checked per subject per frame
BANDS = frozenset({"identify", "recognise", "observe", "detect", "monitor"})


@dataclass(frozen=True, slots=True)
class Subject:
    """One person in the frame, as the simulator knows them."""

    id: str
    household: str | None
    role: PersonRole
    d: float
    band: str | None
    bbox: tuple[int, int, int, int]
    masked: bool

    def to_dict(self) -> dict[str, Any]:
        x, y, w, h = self.bbox
        return {
            "id": self.id,
            "household": self.household,
            "role": self.role,
            "d": round(float(self.d), 1),
            "band": self.band,
            # int() because renderers hand over numpy integers, which json refuses.
            "bbox": [int(x), int(y), int(w), int(h)],
            "masked": bool(self.masked),
        }

    def _json(self) -> str:
        # Hand-formatted: three times faster than json.dumps of to_dict(), and this runs for
        # every subject of every frame of every simulated camera.  Identical output (tested).
        d = round(float(self.d), 1)
        # The same rules from_json enforces, so a simulator bug fails where it is made.
        if not 0 <= d < math.inf:
            raise MediaError(f"ground truth: subject {self.id!r}: distance {self.d} is not >= 0 "
                             "and finite")
        if self.role not in _ROLES:
            raise MediaError(f"ground truth: subject {self.id!r}: unknown role {self.role!r}")
        if self.band is not None and self.band not in BANDS:
            raise MediaError(f"ground truth: subject {self.id!r}: unknown band {self.band!r}")
        x, y, w, h = self.bbox
        if w < 0 or h < 0:
            raise MediaError(f"ground truth: subject {self.id!r}: bbox {self.bbox} has a "
                             "negative size")
        household = "null" if self.household is None else _quote(self.household)
        band = "null" if self.band is None else _quote(self.band)
        return (
            f'{{"id":{_quote(self.id)},"household":{household},"role":{_quote(self.role)},'
            f'"d":{d!r},"band":{band},"bbox":[{int(x)},{int(y)},{int(w)},{int(h)}],'
            f'"masked":{"true" if self.masked else "false"}}}'
        )


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What one frame of one camera shows: camera id, frame sequence, capture time (unix µs)."""

    cam: str
    seq: int
    t: int
    subjects: tuple[Subject, ...] = ()

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON with the contract's keys, in the contract's order."""
        if self.seq < 0 or self.t < 0:
            raise MediaError(f"ground truth of {self.cam!r}: seq and t must be >= 0")
        try:
            subjects = ",".join([s._json() for s in self.subjects])
            text = (
                f'{{"cam":{_quote(self.cam)},"seq":{int(self.seq)},"t":{int(self.t)},'
                f'"subjects":[{subjects}]}}'
            )
            return text.encode()
        except UnicodeEncodeError as err:
            raise MediaError(f"ground truth of {self.cam!r}: text is not valid Unicode") from err
        except (TypeError, ValueError) as err:
            raise MediaError(f"ground truth of {self.cam!r}: a field has the wrong type: {err}") \
                from err

    @classmethod
    def from_json(cls, data: bytes | str) -> GroundTruth:
        """Parse and validate; MediaError names the offending field (e.g. ``subjects[2].bbox``)."""
        try:
            doc = json.loads(data)
        except UnicodeDecodeError as err:
            raise MediaError(f"ground truth: not UTF-8 ({err.reason} at byte {err.start})") from err
        except ValueError as err:
            raise MediaError(f"ground truth: not JSON ({err})") from err
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: object) -> GroundTruth:
        """Validate an already-decoded JSON document (see :meth:`from_json`)."""
        if not isinstance(doc, dict):
            raise MediaError(f"ground truth: expected a JSON object, got {_kind(doc)}")
        cam = _field(doc, "cam", "", str)
        if not cam:
            raise MediaError("ground truth: cam: must not be empty")
        seq = _int_field(doc, "seq", "", minimum=0)
        t = _int_field(doc, "t", "", minimum=0)
        raw_subjects = doc.get("subjects", [])
        if not isinstance(raw_subjects, list):
            raise MediaError(f"ground truth: subjects: expected a list, got {_kind(raw_subjects)}")
        subjects = tuple([_subject(s, i) for i, s in enumerate(raw_subjects)])
        return cls(cam=cam, seq=seq, t=t, subjects=subjects)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _field(doc: dict[str, Any], key: str, where: str, kind: type, nullable: bool = False) -> Any:
    if key not in doc:
        raise MediaError(f"ground truth: {where}{key}: missing")
    value = doc[key]
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MediaError(
            f"ground truth: {where}{key}: expected {kind.__name__}"
            f"{' or null' if nullable else ''}, got {_kind(value)}"
        )
    return value


def _int_field(doc: dict[str, Any], key: str, where: str, minimum: int) -> int:
    value: int = _field(doc, key, where, int)
    if value < minimum:
        raise MediaError(f"ground truth: {where}{key}: {value} is below {minimum}")
    return value


def _subject(doc: object, index: int) -> Subject:
    # Fast path for well-formed subjects (the hub parses every frame); anything unusual falls
    # through to the checks below, which name the offending field.
    if type(doc) is dict and len(doc) == 7:
        sid = doc.get("id")
        household = doc.get("household")
        role = doc.get("role")
        d = doc.get("d")
        band = doc.get("band")
        bbox = doc.get("bbox")
        masked = doc.get("masked")
        if (
            type(sid) is str
            and (household is None or type(household) is str)
            and type(role) is str
            and role in _ROLES
            and (type(d) is float or type(d) is int)
            and 0 <= d < math.inf
            and (band is None or (type(band) is str and band in BANDS))
            and type(bbox) is list
            and len(bbox) == 4
            and type(bbox[0]) is int
            and type(bbox[1]) is int
            and type(bbox[2]) is int
            and type(bbox[3]) is int
            and bbox[2] >= 0
            and bbox[3] >= 0
            and type(masked) is bool
        ):
            return Subject(sid, household, role, float(d), band,
                           (bbox[0], bbox[1], bbox[2], bbox[3]), masked)
    return _subject_checked(doc, f"subjects[{index}].")


def _subject_checked(doc: object, where: str) -> Subject:
    if not isinstance(doc, dict):
        raise MediaError(f"ground truth: {where[:-1]}: expected an object, got {_kind(doc)}")
    sid = _field(doc, "id", where, str)
    household = _field(doc, "household", where, str, nullable=True)
    role = _field(doc, "role", where, str)
    if role not in _ROLES:
        raise MediaError(f"ground truth: {where}role: unknown role {role!r}")
    d = doc.get("d")
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d) or d < 0:
        raise MediaError(f"ground truth: {where}d: expected a distance >= 0 m, got {d!r}")
    band = _field(doc, "band", where, str, nullable=True)
    if band is not None and band not in BANDS:
        raise MediaError(f"ground truth: {where}band: unknown band {band!r}")
    bbox = doc.get("bbox")
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in bbox)
        or bbox[2] < 0
        or bbox[3] < 0
    ):
        raise MediaError(
            f"ground truth: {where}bbox: expected [x, y, w, h] integers with w, h >= 0, "
            f"got {bbox!r}"
        )
    masked = _field(doc, "masked", where, bool)
    return Subject(
        id=sid,
        household=household,
        role=role,
        d=float(d),
        band=band,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        masked=masked,
    )


def _sei_number(value: int) -> bytes:
    """payloadType / payloadSize coding: a 0xFF byte per full 255, then the remainder."""
    full, rest = divmod(value, 255)
    return b"\xff" * full + bytes((rest,))


def build_sei(messages: Sequence[tuple[int, bytes]]) -> bytes:
    """An SEI NAL unit holding ``(payload_type, payload)`` messages, in order (H.264 7.3.2.3)."""
    if not messages:
        raise MediaError("an SEI NAL unit needs at least one message")
    parts: list[bytes] = []
    for ptype, payload in messages:
        if ptype < 0:
            raise MediaError(f"SEI payload type {ptype} is negative")
        parts += (_sei_number(ptype), _sei_number(len(payload)), payload)
    parts.append(b"\x80")  # rbsp_trailing_bits: stop bit then byte alignment
    return b"\x06" + escape_rbsp(b"".join(parts))


def build_sei_nal(gt: GroundTruth) -> bytes:
    """A complete SEI NAL unit (header byte 0x06) holding the ground-truth message."""
    return build_sei([(USER_DATA_UNREGISTERED, GROUND_TRUTH_UUID + gt.to_json())])


def _read_sei_number(rbsp: bytes, pos: int, what: str) -> tuple[int, int]:
    value = 0
    end = len(rbsp)
    while pos < end and rbsp[pos] == 0xFF:
        value += 255
        pos += 1
    if pos >= end:
        raise MediaError(f"SEI truncated inside the {what}")
    return value + rbsp[pos], pos + 1


def sei_messages(nal: bytes) -> list[tuple[int, bytes]]:
    """Every ``(payload_type, payload)`` message of an SEI NAL unit.

    Raises MediaError when the NAL unit is not an SEI or a message runs past its end.
    """
    if not nal:
        raise MediaError("empty NAL unit is not an SEI")
    if nal[0] & 0x1F != NAL_SEI:
        raise MediaError(f"not an SEI NAL unit: type {nal[0] & 0x1F}")
    rbsp = unescape_rbsp(nal[1:])
    end = len(rbsp)
    pos = 0
    messages = []
    # more_rbsp_data(): messages are byte aligned, so the rbsp_trailing_bits are one 0x80 byte.
    # A NAL unit that omits them is tolerated.
    while pos < end and not (pos == end - 1 and rbsp[pos] == 0x80):
        ptype, pos = _read_sei_number(rbsp, pos, "payload type")
        size, pos = _read_sei_number(rbsp, pos, "payload size")
        if pos + size > end:
            raise MediaError(
                f"SEI message (type {ptype}) claims {size} bytes, only {end - pos} remain"
            )
        messages.append((ptype, rbsp[pos : pos + size]))
        pos += size
    return messages


def ground_truth_json(nal: bytes) -> bytes | None:
    """The raw ground-truth JSON of an SEI NAL unit, unvalidated (None when there is none).

    For relaying the payload as sent (the hub's ``meta`` field) without a parse/serialize trip.
    The hub calls this for every frame: an SEI that holds only the ground-truth message and no
    emulation prevention bytes (what rtcc's cameras send) is sliced in place; anything else is
    walked message by message, with the same result.
    """
    end = len(nal) - 1 if nal[-1:] == b"\x80" else len(nal)
    if end > 19 and nal[0] & 0x1F == NAL_SEI and nal[1] == USER_DATA_UNREGISTERED \
            and b"\x00\x00\x03" not in nal:
        pos, size = 2, 0
        while pos < end and nal[pos] == 0xFF:
            size += 255
            pos += 1
        if pos < end:
            size += nal[pos]
            pos += 1
            if pos + size == end and nal[pos:pos + 16] == GROUND_TRUTH_UUID:
                return nal[pos + 16:end]
    for ptype, payload in sei_messages(nal):
        if ptype == USER_DATA_UNREGISTERED and payload[:16] == GROUND_TRUTH_UUID:
            return payload[16:]
    return None


def parse_sei_nal(nal: bytes) -> GroundTruth | None:
    """The ground truth in an SEI NAL unit, or None when it holds no ground-truth message.

    Walks every SEI message of the NAL unit; raises MediaError when the NAL unit is not an SEI,
    when a message runs past the end, or when the ground-truth JSON is invalid.
    """
    raw = ground_truth_json(nal)
    return None if raw is None else GroundTruth.from_json(raw)


def find_ground_truth(nals: Sequence[bytes]) -> GroundTruth | None:
    """The ground truth of an access unit: the first SEI NAL unit that carries one."""
    raw = find_ground_truth_json(nals)
    return None if raw is None else GroundTruth.from_json(raw)


def find_ground_truth_json(nals: Sequence[bytes]) -> bytes | None:
    """The raw ground-truth JSON of an access unit (see :func:`ground_truth_json`)."""
    for nal in nals:
        if nal and nal[0] & 0x1F == NAL_SEI:
            raw = ground_truth_json(nal)
            if raw is not None:
                return raw
    return None


def insert_sei(nals: Sequence[bytes], sei_nal: bytes) -> tuple[bytes, ...]:
    """Insert ``sei_nal`` after AUD/SPS/PPS/other SEI and before the first slice (H.264 7.4.1.2.3).

    With no slice at all, the SEI goes at the end.
    """
    for i, nal in enumerate(nals):
        if nal and nal[0] & 0x1F in VCL_TYPES:
            return (*nals[:i], sei_nal, *nals[i:])
    return (*nals, sei_nal)
