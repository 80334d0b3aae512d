"""The wall's view of the consent registry: which cameras may be watched, which households consent.

Backed by the registry's :class:`~rtcc.registry.cache.ConsentCache` (event-invalidated, O(1)
per lookup), so the fan-out can ask per frame. On top of it the wall needs households:

* a household *consents to live* when one of its cameras is live now; a household with no camera
  in the registry consents when its own seed tier (from the world file) is ``live``;
* a household's *tier* for the map is the most shared effective tier among its cameras, else its
  seed tier.

Runs on the event loop; the cache calls :meth:`WallConsent.on_change` listeners there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rtcc.registry.cache import ConsentCache
from rtcc.registry.consent import ConsentRecord, effective_tier
from rtcc.vocabulary import TIERS, Tier

_RANK: dict[Tier, int] = {tier: i for i, tier in enumerate(TIERS)}


class WallConsent:
    def __init__(self, cache: ConsentCache, household_seeds: dict[str, Tier] | None = None
                 ) -> None:
        self.cache = cache
        self.household_seeds = dict(household_seeds or {})
        self._cameras_of: dict[str, set[str]] = {}
        self._household_of: dict[str, str] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._unsubscribe = cache.subscribe(self._changed)

    def index(self, cameras: Iterable[tuple[str, str | None]]) -> None:
        """(camera, household) pairs; the cache's own records are indexed as they change."""
        for cam, household in cameras:
            self._place(cam, household)

    def set_household_seeds(self, seeds: dict[str, Tier]) -> None:
        self.household_seeds = dict(seeds)

    def close(self) -> None:
        self._unsubscribe()

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(camera_id)`` whenever a camera's consent may have changed."""
        self._listeners.append(listener)

    # --- lookups (synchronous, cheap) -------------------------------------------------------

    def is_live(self, camera_id: str) -> bool:
        return self.cache.is_live(camera_id)

    def household_live(self, household_id: str) -> bool:
        cams = self._cameras_of.get(household_id)
        if cams:
            return any(self.cache.is_live(cam) for cam in cams)
        return self.household_seeds.get(household_id) == "live"

    def camera_tier(self, camera_id: str, now: float | None = None) -> Tier:
        record = self.cache.record(camera_id)
        if record is None:
            return "none"
        return effective_tier(record, time.time() if now is None else now)

    def household_tier(self, household_id: str) -> Tier:
        cams = self._cameras_of.get(household_id)
        if not cams:
            return self.household_seeds.get(household_id, "none")
        now = time.time()
        return max((self.camera_tier(cam, now) for cam in cams), key=lambda t: _RANK.get(t, 0))

    def household_of(self, camera_id: str) -> str | None:
        record = self.cache.record(camera_id)
        if record is not None:
            return record.household
        return self._household_of.get(camera_id)

    # --- internals --------------------------------------------------------------------------

    def _place(self, cam: str, household: str | None) -> None:
        old = self._household_of.get(cam)
        if old == household:
            return
        if old is not None:
            self._cameras_of.get(old, set()).discard(cam)
        if household:
            self._household_of[cam] = household
            self._cameras_of.setdefault(household, set()).add(cam)
        else:
            self._household_of.pop(cam, None)

    def _changed(self, camera_id: str, record: ConsentRecord | None) -> None:
        self._place(camera_id, record.household if record is not None else None)
        for listener in list(self._listeners):
            listener(camera_id)
