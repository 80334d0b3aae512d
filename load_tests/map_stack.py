"""A whole rtcc on loopback without cameras, for the map's and the request workflow's browser
tests and benchmark: the registry seeded from a synthetic world and ``rtcc serve --world``.

:class:`MapStack` is :class:`~load_tests.wall_stack.WallStack` without ``rtcc sim``: no live video
(the wall's tiles stay empty), so a neighbourhood of 10,000 households starts in seconds and the
page's frame times measure the map, not the decoders. Clips for footage requests can be put in a
camera's live channel with :meth:`MapStack.write_clip` (real H.264 from libx264), as the hub
would have written them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.config import Settings
from rtcc.redis_server import redis_urls
from rtcc.world.geojson import load_world, save_world
from rtcc.world.synth import synthesize

from .wall_stack import WallStack


@dataclass
class MapStack(WallStack):
    households: int = 60
    """Households of the synthetic world (ignored when ``world_file`` is given)."""
    world_file: Path | None = None
    """A world file to serve instead of a synthetic one."""
    camera_rate: float = 0.5
    live_rate: float = 0.2
    request_rate: float = 0.45
    registry_rate: float = 0.2

    def _start(self, timeout: float) -> None:
        if self.world_file is not None:
            self.world = load_world(self.world_file)
        else:
            self.world = synthesize(self.households, self.seed, live_rate=self.live_rate,
                                    request_rate=self.request_rate,
                                    registry_rate=self.registry_rate,
                                    camera_rate=self.camera_rate)
        self.live = sorted(c for c in self.world.cameras
                           if self.world.camera_consent(c) == "live")
        self.not_live = sorted(c for c in self.world.cameras if c not in set(self.live))
        world_path = self.tmp / "world.geojson"
        save_world(self.world, world_path)
        settings = Settings.load({"data_dir": str(self.tmp / "data"),
                                  "run_dir": str(self.tmp / "run")},
                                 environ={"HOME": str(self.tmp)})
        self.urls = self._stack.enter_context(redis_urls(settings))
        self.admin_token = self.run(self._seed({}, []))
        self._start_serve(world_path, timeout)

    def write_clip(self, camera: str, aus: list[Any], t0: float, fps: float = 10.0) -> None:
        """Access units into ``camera``'s live channel as captured from unix time ``t0``."""

        async def write() -> None:
            assert self.urls is not None
            client = aredis.Redis.from_url(self.urls.live)
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for i, au in enumerate(aus):
                        t = int((t0 + i / fps) * 1e6)
                        pipe.xadd(keys.video(camera), {"au": au.annexb(), "seq": i, "t": t,
                                                       "ta": t, "key": "1" if au.keyframe
                                                       else "0", "meta": b""})
                    await pipe.execute()
            finally:
                await client.aclose()

        self.run(write())

    def camera_tiers(self) -> dict[str, str]:
        """Every camera's tier as the world seeded it."""
        return {c: self.world.camera_consent(c) for c in self.world.cameras}
