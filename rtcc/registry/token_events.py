"""Session events: the message published on ``keys.USER_EVENTS`` when access ends early.

Published inside the same Lua batch as the change (:mod:`rtcc.registry.txn`), so a subscriber
that hears it can no longer authenticate the token. Every wall process follows the channel
(:mod:`rtcc.registry.token_watch`) and closes what the user or token was watching. A token's
expiry needs no event: each watcher knows the time and keeps its own timer.

* ``revoked``: the user was revoked; every token they held is gone (``token`` is null);
* ``logout``: one token ended (``token`` is its sha256 digest, never the token).

Example::

    {"kind": "revoked", "user": "olive", "token": null, "ts": 1767225600.25}
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rtcc import keys
from rtcc.registry.txn import Txn

KINDS = ("revoked", "logout")


@dataclass(frozen=True, slots=True)
class TokenEvent:
    kind: str
    user: str
    token: str | None
    """The token's digest for ``logout``; None when every token of the user ended."""
    ts: float

    def encode(self) -> str:
        return json.dumps({"kind": self.kind, "user": self.user, "token": self.token,
                           "ts": self.ts}, separators=(",", ":"))

    @classmethod
    def decode(cls, data: str | bytes) -> TokenEvent:
        """Parse a message; ValueError when it is not a session event."""
        try:
            raw = json.loads(data)
            token = raw["token"]
            event = cls(str(raw["kind"]), str(raw["user"]),
                        None if token is None else str(token), float(raw["ts"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"not a session event: {err}") from err
        if event.kind not in KINDS:
            raise ValueError(f"not a session event: kind {event.kind!r}")
        return event


def stage(txn: Txn, event: TokenEvent) -> None:
    """Publish ``event`` as part of ``txn`` (at the instant its change becomes visible)."""
    txn.publish(keys.USER_EVENTS, event.encode())
