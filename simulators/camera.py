"""One simulated camera: scene -> rendered frame -> H.264 access unit with ground truth in SEI.

:meth:`SimCamera.capture` is the whole per-frame pipeline of a simulated camera:

1. the capture time (wall-clock unix microseconds, what a real camera stamps) is mapped to scene
   time by the shared :class:`~simulators.clock.SimClock`;
2. the camera's :class:`~simulators.scene.SceneView` says who is near, the
   :class:`~simulators.render.CameraRenderer` draws the view into an I420 frame and lists who is
   actually visible (the ground truth);
3. libx264 (:class:`rtcc.media.encoder.H264Encoder`: constrained baseline, zero latency, fixed
   GOP, SPS/PPS before every IDR) encodes it, and the ground-truth SEI NAL unit of the
   ARCHITECTURE contract is inserted before the first slice.

It is blocking CPU work: callers on an event loop run it in an executor or a thread. One camera
captures one frame at a time (a lock makes concurrent calls queue); different cameras may run in
parallel threads and share one scene and one clock.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from dataclasses import dataclass

import av
import numpy as np
from av.video.frame import PictureType

from rtcc.errors import MediaError
from rtcc.media.encoder import VIDEO_CLOCK, H264Encoder
from rtcc.media.h264 import AccessUnit
from rtcc.media.sei import GroundTruth, build_sei_nal, insert_sei
from rtcc.world.model import Camera, World
from simulators.clock import SimClock
from simulators.grain import Grain
from simulators.lighting import daylight
from simulators.render import CameraRenderer, RenderedFrame
from simulators.scene import Scene

log = logging.getLogger(__name__)

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS = 640, 360, 10.0
#: Constant quantiser of live-rendered cameras (``rtcc sim`` without ``--replay`` or a bitrate):
#: libx264's rate control analyses every frame before coding it, which on these simple rendered
#: pictures is a third of the encoding time (load_tests.bench_render measures both). QP 23 is what
#: CRF 23 averages on them; keyframes stay ~20 KB and nothing caps a frame, which is fine for
#: rendered streets (a scenario's ``[camera] bitrate`` brings the capped rate control back).
LIVE_QP = 23


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    camera_id: str
    seq: int
    capture_us: int
    """Wall-clock unix time of capture, microseconds (also ``truth.t``)."""
    au: AccessUnit
    """SPS/PPS before every IDR, then the ground-truth SEI, then the slices. ``au.pts`` is the
    capture time on the 90 kHz RTP video clock (``capture_us * 90000 // 1000000``)."""
    keyframe: bool
    truth: GroundTruth


def _plane_views(picture: av.VideoFrame, width: int, height: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable numpy views of a yuv420p picture's planes, cropped from their line padding."""
    views = []
    for plane, (w, h) in zip(picture.planes, ((width, height), (width // 2, height // 2),
                                               (width // 2, height // 2)), strict=True):
        buf = np.frombuffer(memoryview(plane), dtype=np.uint8)
        views.append(buf[:plane.line_size * h].reshape(h, plane.line_size)[:, :w])
    return views[0], views[1], views[2]


class SimCamera:
    """Renders and encodes the frames of one camera of a world (see the module docstring)."""

    def __init__(
        self,
        world: World,
        camera: Camera,
        scene: Scene,
        *,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        fps: float = DEFAULT_FPS,
        gop_seconds: float = 1.0,
        clock: SimClock,
        bitrate: int | None = None,
        preset: str = "ultrafast",
        qp: int | None = None,
        maxrate: int | None = None,
        bufsize: int | None = None,
        ipratio: float | None = None,
        grain: float = 0.0,
    ) -> None:
        self.camera_id = camera.id
        self.camera = camera
        self.clock = clock
        self.width, self.height, self.fps = width, height, fps
        try:
            self.renderer = CameraRenderer(world, camera, width, height)
        except ValueError as err:
            raise MediaError(f"camera {camera.id}: {err}") from err
        self._view = scene.near(self.renderer.bounds)
        self._encoder: H264Encoder | None = H264Encoder(
            width, height, fps, gop_seconds, bitrate, preset, qp=qp, maxrate=maxrate,
            bufsize=bufsize, ipratio=ipratio)
        # libx264 writes SPS/PPS into its global header when it opens: no priming frame needed.
        sps, pps = self._encoder.sps, self._encoder.pps
        assert sps is not None and pps is not None
        self.sps: bytes = sps
        self.pps: bytes = pps
        self._picture = av.VideoFrame(width, height, "yuv420p")
        self._planes = _plane_views(self._picture, width, height)
        # With grain the renderer draws the luma into a clean plane of its own (its boxes are
        # restored from the background frame to frame), and the noisy copy goes to the encoder.
        self._grain = Grain(width, height, grain, offset=zlib.crc32(camera.id.encode())) \
            if grain > 0 else None
        self._draw_planes = self._planes if self._grain is None else (
            np.zeros((height, width), np.uint8), self._planes[1], self._planes[2])
        self.seq = 0
        self.last_cost = (0.0, 0.0)
        """CPU seconds (this thread's) of the last capture: (render, encode + SEI)."""
        self.total_cost = [0.0, 0.0]
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SimCamera({self.camera_id!r}, {self.width}x{self.height}@{self.fps:g})"

    @property
    def closed(self) -> bool:
        return self._encoder is None

    def render(self, capture_us: int) -> RenderedFrame:
        """The picture and ground truth at ``capture_us`` without encoding or counting a frame
        (frame grabs, tests)."""
        with self._lock:  # the renderer's caches are not shared between threads
            t = self.clock.scene_time_us(capture_us)
            state = self._view.state_at(t)
            return self.renderer.render(state, self.clock.label(capture_us / 1e6), daylight(t))

    def capture(self, capture_us: int) -> EncodedFrame:
        """Render, encode and stamp the next frame, captured at wall time ``capture_us``."""
        with self._lock:
            encoder = self._encoder
            if encoder is None:
                raise MediaError(f"camera {self.camera_id}: capture after close")
            c0 = time.thread_time()
            # Render straight into the encoder's input picture, one per camera, reused: PyAV's
            # from_ndarray would copy the whole frame again line by line, and a fresh picture
            # per frame costs its page faults (together ~0.3 ms, a third of the budget).
            # libx264 copies the picture into its own buffers during encode().
            picture = self._picture
            picture.pict_type = PictureType.NONE
            t = self.clock.scene_time_us(capture_us)
            subjects = self.renderer.render_into(
                self._draw_planes, self._view.state_at(t), self.clock.label(capture_us / 1e6),
                daylight(t), reuse=True)
            if self._grain is not None:
                self._grain.apply(self._draw_planes[0], self._planes[0])
            c1 = time.thread_time()
            truth = GroundTruth(self.camera_id, self.seq, int(capture_us), subjects)
            au = encoder.encode(picture)
            if au is None:  # zerolatency never holds a frame back; this would be a config bug
                raise MediaError(f"camera {self.camera_id}: encoder held frame {self.seq} back")
            nals = insert_sei(au.nals, build_sei_nal(truth))
            frame = EncodedFrame(
                camera_id=self.camera_id,
                seq=self.seq,
                capture_us=int(capture_us),
                au=AccessUnit(nals, int(capture_us) * VIDEO_CLOCK // 1_000_000),
                keyframe=au.keyframe,
                truth=truth,
            )
            c2 = time.thread_time()
            self.last_cost = (c1 - c0, c2 - c1)
            self.total_cost[0] += c1 - c0
            self.total_cost[1] += c2 - c1
            self.seq += 1
            return frame

    def force_keyframe(self) -> None:
        """Make the next captured frame an IDR (a client joined, a keyframe was requested)."""
        encoder = self._encoder
        if encoder is not None:
            encoder.force_keyframe()

    def close(self) -> None:
        """Release the encoder; idempotent. ``capture`` afterwards raises MediaError."""
        with self._lock:
            if self._encoder is not None:
                self._encoder.close()
                self._encoder = None
