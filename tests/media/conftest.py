"""Real H.264 for the media tests: frames from PyAV's libx264, made once per session."""

from __future__ import annotations

import numpy as np
import pytest

from rtcc.media.encoder import H264Encoder
from rtcc.media.h264 import AccessUnit


def busy_frame(i: int, width: int = 640, height: int = 360) -> np.ndarray:
    """A synthetic RGB frame with detail everywhere (gradients, a checkerboard, a moving
    interference pattern) so that every macroblock costs bits and every frame differs."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xx * 3 + i * 7) % 256
    img[..., 1] = (((xx // 8) ^ (yy // 8)) * 37 + i * 5) % 256
    img[..., 2] = ((xx * yy) // (7 + i % 5)) % 256
    return img


def encode_frames(
    count: int, width: int = 640, height: int = 360, fps: float = 10.0, gop_seconds: float = 1.0
) -> tuple[H264Encoder, list[AccessUnit]]:
    enc = H264Encoder(width, height, fps, gop_seconds=gop_seconds)
    aus = []
    for i in range(count):
        au = enc.encode(busy_frame(i, width, height))
        assert au is not None, "zerolatency libx264 returns one access unit per frame"
        aus.append(au)
    assert enc.flush() == []
    return enc, aus


@pytest.fixture(scope="session")
def stream_640() -> tuple[H264Encoder, list[AccessUnit]]:
    """25 access units of 640x360 at 10 fps, GOP 1 s: IDR at frames 0, 10 and 20."""
    return encode_frames(25)
