"""A whole rtcc on loopback for the residents' app's browser tests: sim, hub, registry, wall and
``/home/``, with two residents' homes chosen in the world.

:class:`HomeStack` is :class:`~load_tests.wall_stack.WallStack` with a world arranged for the
residents' stories:

* :attr:`switcher` — a home whose camera (:attr:`switch_camera`) is simulated and pulled by the
  hub but only shared at ``registry`` tier: when its resident chooses ``live``, its tile must be
  on the operators' wall within a second;
* :attr:`asked` — a home with two ``request``-tier cameras (:attr:`asked_cameras`) and at least
  one more request-tier camera of another home within :attr:`request_radius` metres, so that a
  footage request around them reaches k = 3 cameras.

Residents get passwords (:meth:`resident`) so that the page's own sign-in form is used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis

from rtcc.registry.users import Users
from rtcc.world.synth import synthesize

from .wall_stack import ADMIN, WallStack

RESIDENT_PASSWORD = "home-resident-password"


@dataclass
class HomeStack(WallStack):
    cameras: int = 4
    households: int = 48
    request_radius: float = 150.0
    switcher: str = ""
    switch_camera: str = ""
    asked: str = ""
    asked_cameras: list[str] = field(default_factory=list)

    def _make_world(self) -> Any:
        world = synthesize(self.households, self.seed, live_rate=0.4, request_rate=0.25,
                           registry_rate=0.2, camera_rate=0.75)
        cams = dict(world.cameras)
        owned: dict[str, list[str]] = {}
        for cid, cam in sorted(cams.items()):
            if cam.household:
                owned.setdefault(cam.household, []).append(cid)
        live = sorted(c for c in cams if world.camera_consent(c) == "live")
        wall = set(live[:self.cameras])
        # The asked home: two cameras, neither on the wall, in the busiest corner.
        pairs = [h for h, cs in sorted(owned.items()) if len(cs) == 2 and not set(cs) & wall]
        if not pairs:
            raise RuntimeError("no home with two cameras off the wall in this world")
        self.asked = pairs[0]
        self.asked_cameras = owned[self.asked]
        centre = cams[self.asked_cameras[0]].position
        for cid in self.asked_cameras:
            cams[cid] = dataclasses.replace(cams[cid], consent="request")
        near = sorted((c for c in cams if c not in self.asked_cameras and c not in wall
                       and cams[c].position.distance(centre) <= self.request_radius - 10),
                      key=lambda c: cams[c].position.distance(centre))
        if not near:
            raise RuntimeError("no third camera near the asked home")
        others = [c for c in near if world.camera_consent(c) == "request"] or [near[0]]
        cams[others[0]] = dataclasses.replace(cams[others[0]], consent="request")
        # The switcher: a home of one camera, neither on the wall nor asked, shared as registry.
        taken = wall | set(self.asked_cameras) | {others[0]}
        self.switcher = next(h for h, cs in sorted(owned.items())
                             if len(cs) == 1 and not set(cs) & taken and h != self.asked)
        self.switch_camera = owned[self.switcher][0]
        cams[self.switch_camera] = dataclasses.replace(cams[self.switch_camera],
                                                       consent="registry")
        self.extra = [self.switch_camera]
        return dataclasses.replace(world, cameras=cams)

    def resident(self, household: str, name: str) -> str:
        """A resident of ``household`` who signs in with :data:`RESIDENT_PASSWORD`."""

        async def add(state: aredis.Redis) -> str:
            await Users(state).add(name, "resident", actor=ADMIN, household=household,
                                   password=RESIDENT_PASSWORD)
            return name

        return self.run(self._state(add))

    def request_area(self) -> dict[str, Any]:
        """A circle around the asked home's first camera that holds every camera asked."""
        p = self.world.cameras[self.asked_cameras[0]].position
        return {"point": list(self.world.projection.to_lonlat(p.x, p.y)),
                "radius_m": self.request_radius}
