"""Consent change events: the message published on ``keys.CONSENT_EVENTS`` for every change.

One JSON message per camera per change, published inside the same Lua batch as the change
(:mod:`rtcc.registry.txn`), so a subscriber never hears of a change it cannot read yet. Every
message carries the camera's whole consent record, so subscribers need no extra read, and
``v``, the registry's CONSENT_VERSION after the change:

* ``set``, ``revoke``, ``import``, ``expired`` bump the version by exactly one each; a subscriber
  that sees ``v`` jump by more than one has missed a message and must re-sync;
* ``boundary`` (a daily schedule edge: live starts or stops without any write) repeats the current
  version; its ``live`` field says which way it went.

Example::

    {"v": 42, "kind": "revoke", "camera": "cam-0007", "ts": 1767225600.25, "live": false,
     "record": {"id": "cam-0007", "household": "hh-0003", "tier": "none", ...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rtcc import keys
from rtcc.registry.consent import ConsentRecord
from rtcc.registry.txn import Txn

KINDS = ("set", "revoke", "import", "expired", "boundary")
BUMPING = frozenset({"set", "revoke", "import", "expired"})
"""Kinds that are writes and so bump CONSENT_VERSION."""


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    version: int
    kind: str
    camera: str
    ts: float
    live: bool
    """Whether the camera may stream at ``ts`` (after the change)."""
    record: ConsentRecord

    def encode(self) -> str:
        return json.dumps({
            "v": self.version, "kind": self.kind, "camera": self.camera, "ts": self.ts,
            "live": self.live, "record": self.record.fields(),
        }, separators=(",", ":"))

    @classmethod
    def decode(cls, data: str | bytes) -> ConsentEvent:
        """Parse a message; ValueError when it is not a consent event."""
        try:
            raw = json.loads(data)
            event = cls(int(raw["v"]), str(raw["kind"]), str(raw["camera"]), float(raw["ts"]),
                        bool(raw["live"]), ConsentRecord.from_fields(raw["record"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a consent event: {err}") from err
        if event.kind not in KINDS or event.record.camera != event.camera:
            raise ValueError(f"not a consent event: kind {event.kind!r}")
        return event


def stage(txn: Txn, event: ConsentEvent) -> None:
    """Publish ``event`` as part of ``txn`` (at the instant its change becomes visible)."""
    txn.publish(keys.CONSENT_EVENTS, event.encode())
