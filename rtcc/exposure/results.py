"""Value types of a static exposure analysis (what :mod:`rtcc.exposure.static` returns).

Each type is a slotted frozen dataclass; :mod:`rtcc.exposure.schema` turns a
:class:`StaticResult` into the documented JSON. Areas are square metres, lengths metres, shares
0..1. Band names are the DORI bands of :mod:`rtcc.world.dori`, finest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rtcc.world.dori import BAND_NAMES

BANDS = BAND_NAMES
"""identify, recognise, observe, detect, monitor."""


def finer_or_equal(band: str | None, limit: str) -> bool:
    """True when ``band`` is at least as detailed as ``limit`` (None never is)."""
    return band is not None and BANDS.index(band) <= BANDS.index(limit)


def finest(bands: list[str | None]) -> str | None:
    """The most detailed band among ``bands`` (None when none is a band)."""
    known = [BANDS.index(b) for b in bands if b is not None]
    return BANDS[min(known)] if known else None


@dataclass(frozen=True, slots=True)
class InView:
    """One household seen by one camera."""

    household: str
    parcel_m2: float
    """Square metres of the parcel inside the camera's view."""
    entrance_band: str | None
    """The band at which the entrance is seen, or None when the entrance is not in view."""
    consenting: bool


@dataclass(frozen=True, slots=True)
class CameraExposure:
    id: str
    household: str | None
    type: str
    consent: str
    live: bool
    visible_area_m2: float
    area_by_band_m2: Mapping[str, float]
    """Visible area in each band (not cumulative); the bands sum to the visible area when the
    camera's monitor band reaches its range."""
    band_distance_m: Mapping[str, float]
    """Outer radius of each band for the delivered width (capped at the camera's range)."""
    spillover_m2: float | None
    """Visible area outside the owner's parcel; None for a camera without a household."""
    spillover_share: float | None
    households_in_view: tuple[str, ...]
    non_consenting_in_view: tuple[str, ...]
    in_view: tuple[InView, ...]
    width: int
    modelled: bool = False
    """An assumed camera (``modelled: true`` in the world file, e.g. an imported world's
    doorbells), not one that was mapped or surveyed."""


@dataclass(frozen=True, slots=True)
class HouseholdExposure:
    id: str
    consent: str
    consenting: bool
    exposed_by: tuple[str, ...]
    """Live cameras that have this household in view."""
    in_view_of: tuple[str, ...]
    """Every camera (any tier) that has it in view: who *could* show it."""
    entrance_band: str | None
    """The finest band at which a live camera sees the entrance (None: not seen live)."""
    parcel_m2: float
    parcel_exposed_share: float
    """Share of the parcel inside the union of the live cameras' views."""
    residents: int
    attributes: Mapping[str, Any]

    @property
    def streams(self) -> int:
        return len(self.exposed_by)


@dataclass(frozen=True, slots=True)
class LineCoverage:
    """Coverage of streets of one kind (``street`` or ``sidewalk``) by the live cameras."""

    kind: str
    length_m: float
    covered_m: Mapping[str, float]
    """Length seen at this band *or finer*, per band (cumulative)."""
    area_m2: float
    """Area of the polygon features of this kind (0 when they are all lines)."""
    covered_area_m2: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Trackability:
    """Where a walker on the sidewalks stays continuously inside some live detect band."""

    sidewalk_m: float
    tracked_m: float
    share: float | None
    """tracked / sidewalk length; None when the world has no sidewalks."""
    longest_run_m: float
    runs: int
    run_lengths_m: tuple[float, ...] = field(default=())
    """Every continuous covered stretch, longest first."""


@dataclass(frozen=True, slots=True)
class Group:
    """Exposure of the households sharing one value of an attribute."""

    value: str
    households: int
    non_consenting: int
    exposed_non_consenting: int
    consent_leakage: float | None
    mean_streams: float
    """Mean number of live streams per household of the group."""
    entrance_identifiable: int
    """Households of the group whose entrance a live camera sees at recognise or finer."""
    leakage_ratio: float | None
    """This group's leakage over the whole world's (disparate impact; 1.0 = same)."""


@dataclass(frozen=True, slots=True)
class Summary:
    households: int
    non_consenting: int
    exposed_non_consenting: int
    consent_leakage: float | None
    """exposed non-consenting / all non-consenting households (None when nobody declined)."""
    cameras: int
    live_cameras: int
    live_private_cameras: int
    """Live cameras of residents and businesses (every type but ``city``)."""
    live_city_cameras: int
    exposed_households: int
    non_consenting_entrance_by_band: Mapping[str, int]
    """Non-consenting households whose entrance a live camera sees, by finest band."""
    mean_non_consenting_per_live_camera: float
    mean_spillover_share: float | None
    """Mean share of a live household camera's view that lies outside its owner's parcel."""
    min_area_m2: float


@dataclass(frozen=True, slots=True)
class StaticResult:
    world: Mapping[str, Any]
    """Name, origin, counts and the consent source of the analysed world."""
    cameras: tuple[CameraExposure, ...]
    households: tuple[HouseholdExposure, ...]
    coverage: tuple[LineCoverage, ...]
    trackability: Trackability
    breakdowns: Mapping[str, tuple[Group, ...]]
    summary: Summary
    notes: tuple[str, ...] = ()

    def camera(self, camera_id: str) -> CameraExposure:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)

    def household(self, household_id: str) -> HouseholdExposure:
        for hh in self.households:
            if hh.id == household_id:
                return hh
        raise KeyError(household_id)
