"""Replay mode: many cameras served from a few pre-encoded loops, for load tests.

A :class:`Template` is a short loop (a couple of seconds) recorded once from any
:class:`~simulators.source.FrameSource` (a rendered world camera or the test pattern). Recording
keeps each frame's NAL units *without* their SEI, already cut into RTP payload chunks, and the
subjects of its ground truth. A :class:`ReplayCamera` then walks a template in a loop and, per
frame, builds only what must be fresh: one ground-truth SEI (its own camera id, sequence number
and capture time; the template's subjects) and, in the feed, the RTP headers. No encoding, no
NAL splitting, no packetizing of slice data on the hot path, which is what lets one process serve
1,000 cameras at 10 fps (load_tests/bench_sim_serving.py).

Looping is seamless for decoders: a recording starts with an IDR, so the frame after the last
one is an IDR again. Cameras start at staggered positions so that their keyframes (and the
bandwidth bursts that come with them) spread over the GOP. ``record_template`` is blocking CPU
work; ``ReplayCamera.next_frame`` is cheap and runs on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcc.media.h264 import NAL_SEI, VCL_TYPES
from rtcc.media.sei import (
    GROUND_TRUTH_UUID,
    USER_DATA_UNREGISTERED,
    GroundTruth,
    Subject,
    build_sei,
)
from simulators.feed import OutFrame
from simulators.rtp_out import DEFAULT_MTU, RTP_HEADER_SIZE, chunk_nals, nal_chunks
from simulators.source import FrameSource

DEFAULT_SECONDS = 2.0
DEFAULT_MAX_PAYLOAD = DEFAULT_MTU - RTP_HEADER_SIZE


@dataclass(frozen=True, slots=True)
class TemplateFrame:
    keyframe: bool
    head: tuple[bytes, ...]
    """NAL units that go before the SEI (AUD, SPS, PPS)."""
    body: tuple[bytes, ...]
    """The slices (and anything after them)."""
    head_chunks: tuple[bytes, ...]
    body_chunks: tuple[bytes, ...]
    subjects: tuple[Subject, ...]
    subjects_json: bytes
    """The ground-truth JSON from ``,"subjects":`` to the end: the same in every replay."""
    octets: int
    """Bytes of ``head_chunks`` and ``body_chunks`` (RTCP sender reports count them)."""

    @property
    def size(self) -> int:
        return sum(len(n) for n in self.head) + sum(len(n) for n in self.body)


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    sps: bytes
    pps: bytes
    fps: float
    width: int
    height: int
    frames: tuple[TemplateFrame, ...]
    next_keyframe: tuple[int, ...]
    """For each frame index, the index of the first keyframe at or after it (cyclically)."""

    @property
    def bitrate(self) -> float:
        """Bits per second of the loop without SEI."""
        return 8 * sum(f.size for f in self.frames) * self.fps / len(self.frames)


def _split_frame(nals: tuple[bytes, ...]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(before-SEI, slices-and-after) with every SEI removed (ours and x264's banner)."""
    head: list[bytes] = []
    body: list[bytes] = []
    for nal in nals:
        kind = nal[0] & 0x1F
        if kind == NAL_SEI:
            continue
        if body or kind in VCL_TYPES:
            body.append(nal)
        else:
            head.append(nal)
    return tuple(head), tuple(body)


def template_frame(nals: tuple[bytes, ...], keyframe: bool, subjects: tuple[Subject, ...] = (),
                   max_payload: int = DEFAULT_MAX_PAYLOAD) -> TemplateFrame:
    """One loop frame from an access unit's NAL units (any SEI in them is dropped)."""
    head, body = _split_frame(nals)
    head_chunks, body_chunks = chunk_nals(head, max_payload), chunk_nals(body, max_payload)
    full = GroundTruth("x", 0, 0, subjects).to_json()
    return TemplateFrame(
        keyframe=keyframe, head=head, body=body, head_chunks=head_chunks,
        body_chunks=body_chunks, subjects=subjects,
        subjects_json=full[full.index(b',"subjects":'):],
        octets=sum(map(len, head_chunks)) + sum(map(len, body_chunks)))


def make_template(name: str, sps: bytes, pps: bytes, *, fps: float, width: int, height: int,
                  frames: list[TemplateFrame]) -> Template:
    """A loop of ``frames``, which must start with a keyframe."""
    if not frames or not frames[0].keyframe:
        raise ValueError(f"template {name}: a loop must start with a keyframe")
    keys = [i for i, f in enumerate(frames) if f.keyframe]
    next_key = tuple(next((k for k in keys if k >= i), keys[0]) for i in range(len(frames)))
    return Template(name, sps, pps, fps, width, height, tuple(frames), next_key)


def record_template(
    source: FrameSource,
    name: str,
    *,
    fps: float,
    width: int,
    height: int,
    seconds: float = DEFAULT_SECONDS,
    start_us: int = 0,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
    warmup_seconds: float = 0.0,
) -> Template:
    """Capture ``seconds`` of ``source`` into a loop (blocking: run it off the event loop).

    ``warmup_seconds`` of frames are encoded first and thrown away: an average-bitrate encoder
    starts with a small keyframe and settles within a GOP, and the loop should look like the
    stream of a camera that has been running."""
    count = max(1, round(seconds * fps))
    warmup = max(0, round(warmup_seconds * fps))
    for i in range(warmup):
        source.capture(start_us + round(i * 1e6 / fps))
    source.force_keyframe()
    frames: list[TemplateFrame] = []
    for i in range(warmup, warmup + count):
        captured = source.capture(start_us + round(i * 1e6 / fps))
        if i == warmup and not captured.keyframe:
            raise ValueError(f"template {name}: the source ignored the keyframe request")
        frames.append(template_frame(captured.au.nals, captured.keyframe,
                                     captured.truth.subjects, max_payload))
    return make_template(name, source.sps, source.pps, fps=fps, width=width, height=height,
                         frames=frames)


class ReplayCamera:
    """One served camera replaying a template with its own id, sequence and clock."""

    __slots__ = ("camera_id", "template", "index", "seq", "max_payload", "_frames", "_cam_json")

    def __init__(self, camera_id: str, template: Template, *, start_index: int = 0,
                 max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.camera_id = camera_id
        self.template = template
        self._frames = template.frames
        self.index = start_index % len(template.frames)
        self.seq = 0
        self.max_payload = max_payload
        # '{"cam":"<id>"' exactly as rtcc.media.sei spells it (escaping included).
        empty = GroundTruth(camera_id, 0, 0).to_json()
        self._cam_json = empty[: empty.index(b',"seq":')]

    @property
    def sps(self) -> bytes:
        return self.template.sps

    @property
    def pps(self) -> bytes:
        return self.template.pps

    def force_keyframe(self) -> None:
        """Skip ahead to the template's next IDR (a client joined and wants a picture now)."""
        self.index = self.template.next_keyframe[self.index]

    def skip_frame(self) -> None:
        """Advance as if a frame had been served (nobody watches: build nothing)."""
        self.index = self.index + 1 if self.index + 1 < len(self._frames) else 0
        self.seq += 1

    def next_frame(self, capture_us: int) -> OutFrame:
        frames = self._frames
        i = self.index
        tf = frames[i]
        self.index = i + 1 if i + 1 < len(frames) else 0
        seq = self.seq
        self.seq = seq + 1
        # The ground-truth JSON of GroundTruth(cam, seq, t, subjects).to_json(), assembled from
        # parts that never change for this camera and template frame (identical bytes, tested).
        doc = b'%s,"seq":%d,"t":%d%s' % (self._cam_json, seq, capture_us, tf.subjects_json)
        sei = build_sei([(USER_DATA_UNREGISTERED, GROUND_TRUTH_UUID + doc)])
        sei_chunks = (sei,) if len(sei) <= self.max_payload else nal_chunks(sei, self.max_payload)
        return OutFrame(seq, capture_us, tf.keyframe, (*tf.head, sei, *tf.body),
                        tf.head_chunks + sei_chunks + tf.body_chunks,
                        octets=tf.octets + len(sei))

    def close(self) -> None:
        """Nothing to release (templates are shared); for symmetry with live sources."""
