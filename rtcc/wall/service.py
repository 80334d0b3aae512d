"""The wall of one ``rtcc serve`` process: fan-out, consent, access, WHEP, map and camera list.

:func:`wall_context` is the aiohttp cleanup context that starts the pieces in order (consent cache,
fan-out, WHEP) and stops them in reverse. The world file (``--world`` / ``RTCC_WORLD``) is loaded
and its visibility polygons computed in an executor thread (shapely/numpy CPU work), once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from rtcc.errors import RtccError
from rtcc.registry.audit import AuditLog
from rtcc.registry.cache import ConsentCache
from rtcc.registry.police_view import Audience
from rtcc.registry.store import RegisteredCamera, Registry
from rtcc.registry.token_watch import TokenWatch
from rtcc.registry.users import UserPolicy, Users
from rtcc.wall.access import RegistryAccess
from rtcc.wall.consent import WallConsent
from rtcc.wall.fanout import FeedHub
from rtcc.wall.whep import WhepLimits, WhepService
from rtcc.web.mapdoc import MapDocuments
from rtcc.web.mapgeometry import MapGeometry, build_geometry

log = logging.getLogger(__name__)

CAMERA_LIST_TTL = 2.0
"""Seconds the registry's camera metadata is reused between page polls."""
MAP_REGISTRY_TTL = 60.0
"""Seconds the map reuses the registry's households (their seed tiers change only with an
import; cameras' owners reach the consent view as events)."""


def load_map_geometry(path: Path) -> MapGeometry:
    """Blocking: load a world file and project it, with visibility polygons, to lon/lat."""
    from rtcc.world.geojson import load_world
    from rtcc.world.visibility import visibility_polygons

    world = load_world(path)
    return build_geometry(world, visibility_polygons(world))


def load_map(path: Path) -> MapDocuments:
    """Blocking: the world's map, its unchanging layers encoded."""
    maps = MapDocuments(load_map_geometry(path))
    maps.prepare()
    return maps


class Wall:
    """Everything the wall's routes need, for one application."""

    def __init__(self, state: aredis.Redis, live: aredis.Redis, *, tz: str = "UTC",
                 world: Path | None = None, cache: ConsentCache | None = None,
                 policy: UserPolicy | None = None, whep_limits: WhepLimits | None = None
                 ) -> None:
        self.registry = Registry(state)
        # One consent cache per process: the registry API's when it runs, else our own.
        self._own_cache = cache is None
        self.cache = cache if cache is not None else ConsentCache(state, tz=tz)
        self.consent = WallConsent(self.cache)
        users = Users(state, policy=policy)
        self.access = RegistryAccess(users, AuditLog(state))
        self.tokens = TokenWatch(state, users)
        """Ends pages and WHEP sessions when their user is revoked or their token ends."""
        self.hub = FeedHub(live, self.consent)
        self.whep = WhepService(self.hub, self.access, self.access, tokens=self.tokens,
                                limits=whep_limits)
        self.world_path = world
        self.maps: MapDocuments | None = None
        self.map_error: str | None = None
        self._cameras: list[RegisteredCamera] = []
        self._cameras_at = 0.0
        self._refreshing: asyncio.Lock | None = None
        self.pages = 0
        """WebSocket pages connected now."""
        self.consent.on_change(self.hub.consent_changed)

    async def start(self) -> None:
        if self._own_cache:
            await self.cache.start()
        await self.tokens.start()
        # Index every camera's household now; later changes reach us as the cache's events.
        await self.refresh_registry()
        await self.hub.start()
        if self.world_path is not None:
            loop = asyncio.get_running_loop()
            try:
                self.maps = await loop.run_in_executor(None, load_map, self.world_path)
            except RtccError as err:
                # The wall still works without its map; say why on the page and in the log.
                self.map_error = str(err).splitlines()[0]
                log.error("wall: cannot draw the map from %s: %s", self.world_path, err)

    async def close(self) -> None:
        await self.whep.close()
        await self.tokens.close()
        await self.hub.close()
        self.consent.close()
        if self._own_cache:
            await self.cache.close()

    async def refresh_registry(self, ttl: float = CAMERA_LIST_TTL) -> list[RegisteredCamera]:
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        # One read of the registry at a time: pages polling together share it.
        async with self._refreshing:
            now = time.monotonic()
            if now - self._cameras_at >= ttl:
                self._cameras = await self.registry.cameras()
                self._cameras_at = now
                self.consent.index((c.id, c.household) for c in self._cameras)
                seeds = {h.id: h.seed for h in await self.registry.households()}
                self.consent.set_household_seeds(seeds)
        return self._cameras

    async def camera_list(self, audience: Audience) -> list[dict[str, Any]]:
        """Every camera ``audience`` may see on its own (the police: registry and live ones),
        with its consent now and, when live, its tile state."""
        out = []
        now = time.time()
        for cam in await self.refresh_registry():
            info = cam.info
            tier = self.consent.camera_tier(cam.id, now)
            if not audience.camera(tier, info.household).individual:
                continue
            live = self.consent.is_live(cam.id)
            out.append({
                "id": cam.id,
                # Owners of live cameras chose to share with the RTCC; others stay anonymous.
                "household": info.household if live else None,
                "type": info.type,
                "lon": info.lon,
                "lat": info.lat,
                "direction": info.direction,
                "fov": info.fov,
                "range": info.range,
                "tier": tier,
                "live": live,
                "state": self.hub.tile_state(cam.id) if live else "revoked",
                "viewers": self.hub.viewers_of(cam.id),
            })
        return out

    def following(self, audience: Audience) -> list[str]:
        """The cameras the wall reads now, as far as ``audience`` may know them."""
        now = time.time()
        return [cam for cam in self.hub.following()
                if audience.camera(self.consent.camera_tier(cam, now),
                                   self.consent.household_of(cam)).individual]

    async def map_documents(self) -> MapDocuments:
        """The map of the world file, with the registry's households indexed for its tiers."""
        await self.refresh_registry(MAP_REGISTRY_TTL)
        if self.maps is None:
            raise RtccError(self.map_error or "no world file: start the wall with --world FILE "
                            "(or RTCC_WORLD) to draw the neighbourhood map")
        return self.maps

    async def map_doc(self, audience: Audience) -> dict[str, Any]:
        """The map as GeoJSON (``/api/wall/map``)."""
        maps = await self.map_documents()
        await asyncio.get_running_loop().run_in_executor(None, maps.prepare_geojson)
        return maps.geojson(audience, self.consent)

    async def compact_map(self, audience: Audience) -> dict[str, Any]:
        """The map as the compact document every page draws (``/api/map``)."""
        return (await self.map_documents()).compact(audience, self.consent)
