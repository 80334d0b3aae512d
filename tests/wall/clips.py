"""Real H.264 clips in a camera's live channel, as the hub writes them (docs/channels.md), for
the footage-request tests of the wall and its browser tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import redis.asyncio as aredis

from rtcc import keys
from rtcc.media.encoder import H264Encoder


def encode_clip(count: int = 30, fps: float = 10.0, width: int = 320, height: int = 180
                ) -> list[Any]:
    """``count`` access units of moving colour bars from libx264 (PyAV), an IDR every second."""
    enc = H264Encoder(width, height, fps, gop_seconds=1.0)
    yy, xx = np.mgrid[0:height, 0:width]
    aus = []
    for i in range(count):
        img = np.stack([(xx * 2 + i * 9) % 256, (yy * 3 + i * 5) % 256,
                        ((xx ^ yy) + i) % 256], axis=-1).astype(np.uint8)
        au = enc.encode(img)
        assert au is not None
        aus.append(au)
    return aus


async def write_channel(redis: aredis.Redis, camera: str, aus: list[Any], t0: float,
                        fps: float = 10.0) -> None:
    """``aus`` into ``camera``'s live channel as if captured from unix time ``t0`` at ``fps``."""
    async with redis.pipeline(transaction=False) as pipe:
        for i, au in enumerate(aus):
            t = int((t0 + i / fps) * 1e6)
            pipe.xadd(keys.video(camera), {"au": au.annexb(), "seq": i, "t": t, "ta": t,
                                           "key": "1" if au.keyframe else "0", "meta": b""})
        await pipe.execute()
