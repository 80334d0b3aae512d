"""Writing delivered-frame metadata the way docs/channels.md specifies it (the hub's contract)."""

from __future__ import annotations

from typing import Any

from rtcc import keys


def xadd_meta(pipe: Any, cam: str, seq: int, t: int, meta: bytes, *, ta: int | None = None,
              key: bool = False) -> None:
    """Queue one ``rtcc:meta:frames`` entry: cam, seq, t, ta, key, meta."""
    pipe.xadd(keys.FRAME_META, {"cam": cam, "seq": seq, "t": t, "ta": t if ta is None else ta,
                                "key": "1" if key else "0", "meta": meta},
              maxlen=100_000, approximate=True)
