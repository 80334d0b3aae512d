"""Palette of the simulated street and RGB -> YUV (BT.601, limited range) for I420 frames.

Frames are rendered straight into I420 (planar yuv420p: the Y plane, then U and V at half
resolution, stacked as one (H * 3 / 2, W) uint8 array, the layout PyAV's ``yuv420p`` takes), so
the encoder needs no colour conversion. Colours are given as RGB triples in 0..1.
"""

from __future__ import annotations

import zlib

import numpy as np

RGB = tuple[float, float, float]

SKY_HORIZON: RGB = (0.80, 0.86, 0.93)
SKY_ZENITH: RGB = (0.33, 0.53, 0.84)
HAZE: RGB = (0.78, 0.82, 0.87)
GRASS: RGB = (0.33, 0.50, 0.22)
LAWN: RGB = (0.38, 0.58, 0.26)
ASPHALT: RGB = (0.29, 0.30, 0.32)
CONCRETE: RGB = (0.72, 0.71, 0.68)
CENTRE_LINE: RGB = (0.92, 0.76, 0.15)
FRONT_PATH: RGB = (0.64, 0.62, 0.58)
WINDOW: RGB = (0.20, 0.25, 0.31)
HOUSE_WALLS: tuple[RGB, ...] = (
    (0.88, 0.84, 0.75), (0.93, 0.92, 0.89), (0.62, 0.71, 0.79), (0.64, 0.35, 0.29),
    (0.76, 0.74, 0.66), (0.84, 0.77, 0.56), (0.70, 0.78, 0.70), (0.80, 0.66, 0.58),
)
ROOFS: tuple[RGB, ...] = ((0.28, 0.27, 0.27), (0.40, 0.26, 0.21), (0.44, 0.44, 0.46),
                          (0.33, 0.30, 0.26))
DOORS: tuple[RGB, ...] = ((0.46, 0.14, 0.12), (0.18, 0.21, 0.30), (0.94, 0.94, 0.92),
                          (0.30, 0.22, 0.15))
SKIN: tuple[RGB, ...] = ((0.96, 0.80, 0.69), (0.88, 0.67, 0.52), (0.67, 0.46, 0.33),
                         (0.45, 0.30, 0.21), (0.30, 0.20, 0.14))
CLOTHES: tuple[RGB, ...] = (
    (0.80, 0.15, 0.15), (0.15, 0.30, 0.70), (0.95, 0.95, 0.95), (0.10, 0.10, 0.12),
    (0.20, 0.55, 0.25), (0.95, 0.75, 0.10), (0.55, 0.25, 0.60), (0.95, 0.50, 0.15),
    (0.45, 0.45, 0.48), (0.10, 0.55, 0.60),
)
TROUSERS: tuple[RGB, ...] = ((0.12, 0.16, 0.30), (0.20, 0.20, 0.22), (0.45, 0.38, 0.28),
                             (0.30, 0.32, 0.36), (0.50, 0.50, 0.52))
HAIR: tuple[RGB, ...] = ((0.10, 0.08, 0.06), (0.35, 0.22, 0.12), (0.75, 0.60, 0.35),
                         (0.60, 0.60, 0.60))
UNIFORM: RGB = (0.42, 0.30, 0.18)
"""Delivery drivers wear brown."""
PARCEL: RGB = (0.72, 0.56, 0.36)
DOG: tuple[RGB, ...] = ((0.55, 0.38, 0.20), (0.12, 0.10, 0.09), (0.90, 0.86, 0.78))


def pick(palette: tuple[RGB, ...], key: str, salt: int = 0) -> RGB:
    """A stable palette entry for a name (same id -> same colour in every camera and run)."""
    return palette[(zlib.crc32(key.encode()) + 7919 * salt) % len(palette)]


def yuv(rgb: RGB | np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y, U, V (floats) of RGB in 0..1; works on (..., 3) arrays."""
    c = np.asarray(rgb, dtype=np.float32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    y = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128.0 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128.0 + 112.0 * r - 93.786 * g - 18.214 * b
    return np.stack([y, u, v], axis=-1)


def yuv8(rgb: RGB) -> tuple[int, int, int]:
    y, u, v = (int(round(float(x))) for x in np.clip(yuv(rgb), 0, 255))
    return y, u, v


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in 0..1 -> (H * 3 / 2, W) uint8 I420; H and W must be even."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"I420 needs an even frame size, got {w}x{h}")
    full = yuv(rgb)
    out = np.empty((h * 3 // 2, w), dtype=np.uint8)
    out[:h] = np.clip(full[..., 0] + 0.5, 0, 255)
    # Chroma is the mean of each 2x2 block (what swscale's default would produce).
    quarter = full[..., 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    u_plane, v_plane = out[h:h + h // 4].reshape(h // 2, w // 2), out[h + h // 4:].reshape(
        h // 2, w // 2)
    u_plane[:] = np.clip(quarter[..., 0] + 0.5, 0, 255)
    v_plane[:] = np.clip(quarter[..., 1] + 0.5, 0, 255)
    return out


def i420_planes(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (Y, U, V) into an I420 array, U and V shaped (H/2, W/2): writes go to ``frame``."""
    h = frame.shape[0] * 2 // 3
    w = frame.shape[1]
    return (frame[:h], frame[h:h + h // 4].reshape(h // 2, w // 2),
            frame[h + h // 4:].reshape(h // 2, w // 2))


def i420_to_rgb(frame: np.ndarray) -> np.ndarray:
    """(H * 3 / 2, W) I420 -> (H, W, 3) uint8 RGB (for PNG grabs and tests)."""
    y, u, v = (p.astype(np.float32) for p in i420_planes(frame))
    u = np.repeat(np.repeat(u, 2, axis=0), 2, axis=1) - 128.0
    v = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1) - 128.0
    y = (y - 16.0) * (255.0 / 219.0)
    r = y + 1.596027 * v
    g = y - 0.391762 * u - 0.812968 * v
    b = y + 2.017232 * u
    return np.clip(np.stack([r, g, b], axis=-1) + 0.5, 0, 255).astype(np.uint8)
