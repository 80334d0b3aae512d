"""Daylight over the simulated day, and what a camera shows in the dark.

Doorbell and security cameras switch to infrared at night: a grey picture lit by the camera's own
IR LEDs, bright near the lens and fading with distance (inverse square), the sky black. At dusk
and dawn the colour picture dims before the switch. :func:`daylight` gives the light level for a
simulated time of day (a fixed summer-like day: sunrise 06:30, sunset 19:30, 45 minutes of
twilight); :func:`lit_background` turns a camera's daylight background into the picture for a
level. Levels are quantised so a camera re-derives its background only a few times a day.
"""

from __future__ import annotations

import numpy as np

from simulators.colours import i420_planes

SUNRISE, SUNSET, TWILIGHT = 6.5 * 3600, 19.5 * 3600, 0.75 * 3600
LEVELS = 4
"""Daylight is quantised to 0, 1/4, ... 1; level 0 is the infrared night view."""
IR_REACH = 8.0
"""Metres at which the infrared illuminator's light has fallen to half."""


def daylight(scene_t: float) -> float:
    """Light level 0 (night) .. 1 (day) at scene time ``scene_t`` (seconds), quantised."""
    tod = scene_t % 86400.0
    up = (tod - (SUNRISE - TWILIGHT / 2)) / TWILIGHT
    down = ((SUNSET + TWILIGHT / 2) - tod) / TWILIGHT
    level = float(np.clip(min(up, down), 0.0, 1.0))
    return round(level * LEVELS) / LEVELS


def lit_background(day: np.ndarray, depth: np.ndarray, level: float) -> np.ndarray:
    """The I420 background for light ``level`` from the daylight one (``depth`` per pixel, m)."""
    if level >= 1.0:
        return day
    out = day.copy()
    y, u, v = i420_planes(out)
    y_day = i420_planes(day)[0].astype(np.float32)
    if level > 0.0:
        # Dusk: the same colours, darker and less saturated.
        gain = 0.35 + 0.65 * level
        y[:] = np.clip(16 + (y_day - 16) * gain, 16, 235).astype(np.uint8)
        for plane in (u, v):
            plane[:] = (128 + (plane.astype(np.int16) - 128) * gain).astype(np.uint8)
        return out
    # Night: infrared, grey, lit from the lens; the sky (no depth) stays black.
    falloff = 1.0 / (1.0 + (depth.astype(np.float32) / IR_REACH) ** 2)
    grey = 16 + (y_day - 16) * (0.12 + 1.0 * falloff)
    y[:] = np.clip(np.where(np.isfinite(depth), grey, 18.0), 16, 235).astype(np.uint8)
    u[:] = 128
    v[:] = 128
    return out


def ir_gain(distance: float) -> float:
    """How bright a person ``distance`` m away shows in the infrared view (0.12..1.12)."""
    return 0.12 + 1.0 / (1.0 + (distance / IR_REACH) ** 2)
