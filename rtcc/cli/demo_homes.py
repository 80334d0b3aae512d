"""The demo's two residents: one home whose camera shares live video, one whose cameras take
footage requests, so that a new user can play the opt-in story and the request story in the
browser (``/home/``) beside the operators' wall (``/wall/``).

:func:`choose_homes` picks them in the world: the live home owns a simulated live camera; the
request home owns a request-tier camera that has at least ``k - 1`` other request-tier cameras
within :data:`REACH` metres, so that a request drawn around it reaches the k cameras a request
must ask (``RTCC_REQUEST_K``). :func:`gather_requests` makes such a corner in a synthetic world
that has none. :func:`add_residents` creates their logins.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from rtcc.errors import Conflict
from rtcc.registry.audit import Actor
from rtcc.registry.users import Users
from rtcc.world.model import World

REACH = 140.0
"""Metres around the request home's camera: a circle this wide (0.024 square miles) plus a little
is the smallest area a request may cover."""


@dataclass(frozen=True, slots=True)
class DemoHomes:
    live: str | None
    """A home with a simulated live camera."""
    request: str | None
    """A home with a request-tier camera within reach of k request-tier cameras in all."""
    request_cameras: tuple[str, ...] = ()
    """The request home's request-tier cameras (to simulate: their recordings answer requests)."""


def _request_cameras(world: World) -> list[str]:
    return sorted(c for c in world.cameras if world.camera_consent(c) == "request")


def _within(world: World, camera: str, others: list[str]) -> list[str]:
    p = world.cameras[camera].position
    return [c for c in others if c != camera and world.cameras[c].position.distance(p) <= REACH]


def choose_homes(world: World, simulated: list[str], k: int) -> DemoHomes:
    live = next((world.cameras[c].household for c in simulated
                 if world.camera_consent(c) == "live" and world.cameras[c].household), None)
    requests = _request_cameras(world)
    best: tuple[int, str] | None = None
    for cam in requests:
        household = world.cameras[cam].household
        if household is None or household == live:
            continue
        reach = len(_within(world, cam, requests)) + 1
        if reach >= k and (best is None or reach > best[0]):
            best = (reach, cam)
    if best is None:
        return DemoHomes(live, None)
    household = world.cameras[best[1]].household
    own = tuple(c for c in requests if world.cameras[c].household == household)
    return DemoHomes(live, household, own)


def gather_requests(world: World, k: int, keep: set[str]) -> World:
    """A synthetic world with a corner where k cameras take footage requests: the cameras nearest
    to the home with the most cameras around it (none of ``keep``, the live cameras simulated)
    are seeded at the request tier."""
    candidates = sorted(c for c, cam in world.cameras.items()
                        if c not in keep and world.camera_consent(c) != "live")
    owned = [c for c in candidates if world.cameras[c].household]
    if not owned:
        return world
    centre = max(owned, key=lambda c: (len(_within(world, c, candidates)), c))
    p = world.cameras[centre].position
    near = sorted(candidates, key=lambda c: world.cameras[c].position.distance(p))[:k]
    cams = dict(world.cameras)
    for cid in near:
        if world.cameras[cid].position.distance(p) <= REACH:
            cams[cid] = dataclasses.replace(cams[cid], consent="request")
    return dataclasses.replace(world, cameras=cams)


async def add_residents(users: Users, homes: DemoHomes, *, actor: Actor
                        ) -> list[tuple[str, str, str]]:
    """A login for each chosen home: (what the home is, user name, password)."""
    out = []
    for what, household, name in (("a home that shares its camera live", homes.live, "lee"),
                                  ("a home the police may ask for clips", homes.request,
                                   "robin")):
        if household is None:
            continue
        password = secrets.token_urlsafe(9)
        user: Any = name
        for _ in range(5):
            try:
                await users.add(user, "resident", actor=actor, household=household,
                                password=password)
                break
            except Conflict:
                user = f"{name}-{secrets.token_hex(2)}"
        else:
            continue
        out.append((what, user, password))
    return out


def clip_store_url(metrics_url: str) -> str:
    """The simulators' local store (``rtcc sim`` serves it on its metrics port) as
    ``RTCC_CLIP_STORE_URL``."""
    base = metrics_url.rsplit("/", 1)[0] if metrics_url.endswith("/metrics") else metrics_url
    return f"{base}/cams/{{camera}}/clip"


def home_banner(base_url: str, residents: list[tuple[str, str, str]]) -> list[str]:
    """The banner's lines about the residents' app."""
    if not residents:
        return ["  the residents' app is at " + base_url + "/home/ (no resident login: this "
                "world has no home to show)"]
    lines = [f"rtcc demo: the residents' app is at {base_url}/home/"]
    for what, user, password in residents:
        lines.append(f"  login: {user}   password: {password}   ({what})")
    return lines
