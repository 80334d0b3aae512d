"""How a simulated person (and a dog) looks: part maps over a bounding box, and stable colours.

A figure is drawn by evaluating a *part map* on the pixel grid of its bounding box: ``a`` runs
0..1 across the box and ``b`` 0..1 down it, and every pixel gets a part number (0 = not part of
the figure). The palette maps part numbers to Y, U, V. Colours and height are derived from the
person's id, so one person looks the same in every camera and every run; delivery drivers wear a
brown uniform and carry a parcel, and dog walkers walk a dog.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from rtcc.vocabulary import PersonRole
from simulators import colours as col

SKIN, HAIR, SHIRT, SLEEVE, TROUSERS, SHOES, PARCEL = range(1, 8)
_N_PARTS = 8


@dataclass(frozen=True, slots=True)
class Figure:
    height: float
    """Metres."""
    palette: np.ndarray
    """(parts, 3) uint8 Y, U, V per part number."""
    dog: np.ndarray | None
    """Palette of the dog (body, darker head/ears), or None."""
    parcel: bool


def _yuv_palette(colours: dict[int, col.RGB], n: int) -> np.ndarray:
    pal = np.zeros((n, 3), dtype=np.uint8)
    for part, rgb in colours.items():
        pal[part] = col.yuv8(rgb)
    return pal


def figure_for(pid: str, role: PersonRole) -> Figure:
    """The look of person ``pid`` (deterministic)."""
    h = zlib.crc32(pid.encode())
    height = 1.6 + 0.3 * ((h >> 8) % 1000) / 1000.0
    shirt = col.UNIFORM if role == "delivery" else col.pick(col.CLOTHES, pid, 3)
    trousers = col.UNIFORM if role == "delivery" else col.pick(col.TROUSERS, pid, 4)
    colours = {
        SKIN: col.pick(col.SKIN, pid, 1),
        HAIR: col.pick(col.HAIR, pid, 2),
        SHIRT: shirt,
        SLEEVE: (0.85 * shirt[0], 0.85 * shirt[1], 0.85 * shirt[2]),
        TROUSERS: trousers,
        SHOES: (0.08, 0.08, 0.08),
        PARCEL: col.PARCEL,
    }
    dog = None
    if role == "dog_walker":
        body = col.pick(col.DOG, pid, 5)
        head = (0.7 * body[0], 0.7 * body[1], 0.7 * body[2])
        dog = _yuv_palette({1: body, 2: head}, 3)
    return Figure(height, _yuv_palette(colours, _N_PARTS), dog, role == "delivery")


def person_parts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Part map of an upright person facing the camera (a across, b down, both 0..1).

    Proportions of a 1.75 m adult in a 0.5 m wide box: head 0.13 of the height, shoulders at
    0.15, hips at 0.52, shoes in the last 0.04. The parcel variant is applied by the caller's
    palette only when the figure has one (part PARCEL in the middle of the torso).
    """
    a, b = np.broadcast_arrays(a, b)
    x = np.abs(a - 0.5)
    part = np.zeros(a.shape, dtype=np.int64)
    legs = (b >= 0.52) & (x >= 0.02) & (x <= 0.2)
    part[legs] = TROUSERS
    part[legs & (b >= 0.96)] = SHOES
    torso = (b >= 0.15) & (b < 0.55) & (x <= 0.24)
    part[torso] = SHIRT
    arms = (b >= 0.16) & (b < 0.5) & (x > 0.25) & (x <= 0.34)
    part[arms] = SLEEVE
    part[(b >= 0.46) & (b < 0.52) & (x > 0.25) & (x <= 0.34)] = SKIN  # hands
    head = ((x / 0.17) ** 2 + ((b - 0.075) / 0.075) ** 2) <= 1.0
    part[head] = SKIN
    part[head & (b < 0.045)] = HAIR
    return part


def parcel_parts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A person carrying a parcel in front of the chest."""
    part = person_parts(a, b)
    a, b = np.broadcast_arrays(a, b)
    part[(np.abs(a - 0.5) <= 0.3) & (b >= 0.28) & (b < 0.44)] = PARCEL
    return part


def dog_parts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Side view of a dog in its box: body, four legs, head up front (1 body, 2 head)."""
    a, b = np.broadcast_arrays(a, b)
    part = np.zeros(a.shape, dtype=np.int64)
    body = (((a - 0.45) / 0.33) ** 2 + ((b - 0.42) / 0.2) ** 2) <= 1.0
    legs = (b >= 0.5) & (((np.abs(a - 0.22) <= 0.05)) | (np.abs(a - 0.68) <= 0.05))
    head = (((a - 0.85) / 0.14) ** 2 + ((b - 0.22) / 0.18) ** 2) <= 1.0
    tail = (a < 0.15) & (a > 0.04) & (np.abs(b - (0.35 - (0.15 - a))) < 0.05)
    part[body | legs | tail] = 1
    part[head] = 2
    return part
