"""Sensor grain for rendered pictures: temporal noise that gives P-frames a real camera's size.

A camera's sensor adds noise that differs from frame to frame; an encoder spends a share of every
P-frame on it. Rendered streets have none, so their P-frames stay tiny at any bitrate. A
:class:`Grain` adds a zero-mean Gaussian noise field to the luma plane of each frame.

Drawing fresh noise for a 1080p frame costs more than encoding it, so a small bank of noise fields
is drawn once per picture size (shared by every camera of the process, read-only) and cycled: with
``K`` fields and libx264's single reference frame (preset ultrafast) no two consecutive frames
share their noise, and the encoder cannot exploit the period. Fields are stored as the noise
modulo 256 in uint8, so adding one is a single wrapping ``np.add``; values stay exact as long as
the picture keeps to video range (16-235) and the noise to +-3 sigma (clipped), which rendered
pictures do for sigma up to 6.
"""

from __future__ import annotations

import threading

import numpy as np

BANK_SIZE = 8
_MAX_SIGMA = 6.0
_banks: dict[tuple[int, int, float], tuple[np.ndarray, ...]] = {}
_lock = threading.Lock()


def noise_bank(width: int, height: int, sigma: float, size: int = BANK_SIZE
               ) -> tuple[np.ndarray, ...]:
    """``size`` read-only (height, width) uint8 noise fields (noise mod 256), shared."""
    if not 0 < sigma <= _MAX_SIGMA:
        raise ValueError(f"grain sigma {sigma} out of range (0, {_MAX_SIGMA}]")
    key = (width, height, sigma)
    with _lock:
        bank = _banks.get(key)
        if bank is None:
            rng = np.random.default_rng(0x5EED)
            fields = []
            for _ in range(size):
                noise = rng.standard_normal((height, width), dtype=np.float32) * sigma
                np.clip(noise, -3 * sigma, 3 * sigma, out=noise)
                field = np.rint(noise).astype(np.int8).view(np.uint8)
                field.flags.writeable = False
                fields.append(field)
            bank = _banks[key] = tuple(fields)
    return bank


class Grain:
    """Adds a different noise field of the shared bank to every frame of one camera."""

    __slots__ = ("bank", "index")

    def __init__(self, width: int, height: int, sigma: float, *, offset: int = 0) -> None:
        self.bank = noise_bank(width, height, sigma)
        self.index = offset % len(self.bank)

    def apply(self, clean_luma: np.ndarray, out: np.ndarray) -> None:
        """``out = clean_luma + noise`` (both (height, width) uint8; ``out`` may be a view)."""
        bank = self.bank
        np.add(clean_luma, bank[self.index], out=out)
        self.index = self.index + 1 if self.index + 1 < len(bank) else 0
