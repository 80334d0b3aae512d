"""What the serving side needs from a camera: the shape shared by live and test sources.

:class:`simulators.camera.SimCamera` (a rendered world camera) and
:class:`simulators.pattern.PatternCamera` (a moving test pattern) both fit :class:`FrameSource`;
the fleet, the replay recorder and the tests accept either. ``capture`` is blocking CPU work
(render + encode): callers on the event loop run it in an executor.
"""

from __future__ import annotations

from typing import Protocol

from rtcc.media.h264 import AccessUnit
from rtcc.media.sei import GroundTruth


class CapturedFrame(Protocol):
    """One encoded frame with its ground truth (``simulators.camera.EncodedFrame``)."""

    @property
    def camera_id(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def capture_us(self) -> int: ...

    @property
    def au(self) -> AccessUnit: ...

    @property
    def keyframe(self) -> bool: ...

    @property
    def truth(self) -> GroundTruth: ...


class FrameSource(Protocol):
    """A camera that encodes frames on demand."""

    @property
    def sps(self) -> bytes: ...

    @property
    def pps(self) -> bytes: ...

    def capture(self, capture_us: int) -> CapturedFrame: ...

    def force_keyframe(self) -> None: ...

    def close(self) -> None: ...
