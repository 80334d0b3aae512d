"""From a world file and flags to the fleet's camera plans: camera selection, credentials, sources.

Kept apart from :mod:`simulators.fleet` (which runs cameras) so that what ``rtcc sim`` checks up
front (unknown camera ids, a count larger than the world, malformed ``--auth``) fails with a
precise message before any encoder opens.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from functools import partial

from rtcc.errors import ConfigError
from rtcc.world.model import World
from simulators.auth import Credentials
from simulators.camera import LIVE_QP, SimCamera
from simulators.clock import SimClock
from simulators.fault_spec import FaultSpec, FaultSpecError
from simulators.fleet import CameraPlan
from simulators.pattern import PatternCamera
from simulators.scene import Scene


def select_cameras(world: World, ids: Sequence[str] | None, count: int | None) -> list[str]:
    """``--cameras`` (exact ids, in the given order) or ``--count`` (the first N by id)."""
    available = sorted(world.cameras)
    if not available:
        raise ConfigError("the world has no cameras (features with kind: camera)")
    if ids:
        unknown = [i for i in ids if i not in world.cameras]
        if unknown:
            shown = ", ".join(available[:5]) + (", ..." if len(available) > 5 else "")
            raise ConfigError(f"--cameras: no camera {unknown[0]!r} in the world "
                              f"(it has {len(available)}: {shown})")
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if list(ids).count(i) > 1)
            raise ConfigError(f"--cameras: {dup!r} is listed twice")
        return list(ids)
    if count is not None:
        if count > len(available):
            raise ConfigError(f"--count {count}: the world has only {len(available)} cameras")
        return available[:count]
    return available


def parse_auth(specs: Sequence[str], camera_ids: Sequence[str]) -> dict[str, Credentials]:
    """``--auth USER:PASS`` (every camera) or ``--auth CAM=USER:PASS`` (CAM may be a pattern);
    later flags override earlier ones for the cameras they match."""
    out: dict[str, Credentials] = {}
    for n, spec in enumerate(specs, start=1):
        where = f"--auth #{n}"
        target, eq, rest = spec.partition("=")
        if eq and ":" not in target:
            creds = Credentials.parse(rest, where=where)
            matched = [c for c in camera_ids if c == target or fnmatch.fnmatchcase(c, target)]
            if not matched:
                raise ConfigError(f"{where}: no served camera matches {target!r}")
        else:
            creds = Credentials.parse(spec, where=where)
            matched = list(camera_ids)
        for cam in matched:
            out[cam] = creds
    return out


def check_fault_targets(specs: Sequence[FaultSpec], camera_ids: Sequence[str]) -> None:
    for spec in specs:
        if not any(spec.matches(c) for c in camera_ids):
            raise FaultSpecError(f"faults item {spec.index} {spec.text!r}: no served camera "
                                 f"matches {spec.target!r}")


def world_plans(
    world: World,
    camera_ids: Sequence[str],
    scene: Scene,
    clock: SimClock,
    *,
    width: int,
    height: int,
    fps: float,
    gop_seconds: float = 1.0,
    bitrate: int | None = None,
    qp: int | None = None,
    maxrate: int | None = None,
    bufsize: int | None = None,
    ipratio: float | None = None,
    grain: float = 0.0,
    credentials: dict[str, Credentials] | None = None,
) -> list[CameraPlan]:
    """One plan per selected world camera, rendering the shared scene (SimCamera)."""
    creds = credentials or {}
    plans = []
    for cam_id in camera_ids:
        camera = world.cameras[cam_id]
        make = partial(SimCamera, world, camera, scene, width=width, height=height, fps=fps,
                       gop_seconds=gop_seconds, clock=clock, bitrate=bitrate, qp=qp,
                       maxrate=maxrate, bufsize=bufsize, ipratio=ipratio, grain=grain)
        plans.append(CameraPlan(cam_id, make, household=camera.household,
                                consent=world.camera_consent(camera),
                                credentials=creds.get(cam_id)))
    return plans


def camera_qp(qp: int | None, bitrate: int | None, *, replay: bool) -> int | None:
    """The constant quantiser for world cameras, or None for libx264's capped CRF.

    Live rendering is CPU-bound: a constant quantiser spares libx264 its per-frame rate-control
    analysis (``LIVE_QP``). Replay templates are encoded once, so they keep the capped CRF, whose
    bitrate is closer to a real camera's (what the hub and Redis are loaded with). A scenario's
    ``qp`` or ``bitrate`` always wins."""
    if qp is not None or bitrate is not None or replay:
        return qp
    return LIVE_QP


def pattern_plans(camera_ids: Sequence[str], *, width: int, height: int, fps: float,
                  credentials: dict[str, Credentials] | None = None) -> list[CameraPlan]:
    """Test-pattern cameras (no world needed): tests and benchmarks."""
    creds = credentials or {}
    return [CameraPlan(cam_id, partial(PatternCamera, cam_id, width=width, height=height,
                                       fps=fps), credentials=creds.get(cam_id))
            for cam_id in camera_ids]
