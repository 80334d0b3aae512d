"""Camera presets: the stream a simulated camera sends, sized like the cameras a city connects.

``rtcc sim --preset NAME`` and ``python -m load_tests ... --preset NAME`` pick one. ``360p10`` is
the stream rtcc's cameras sent before presets existed (640x360 at 10 fps, 1 s GOP, capped CRF for
replay templates, constant QP for live rendering: ~110-260 kbit/s and P-frames of a few hundred
bytes), kept so that new figures can be compared with the old ones. The others are sized like
consumer and doorbell cloud cameras (vendors' bandwidth guides: ~1 Mbit/s at 720p, ~2 Mbit/s at
1080p; doorbells with "head-to-toe" 1536x1536 sensors ~3 Mbit/s; docs/benchmarks.md cites them):

* a 2 s GOP (an IDR every 30 frames at 15 fps), as cameras streaming to a cloud use;
* constrained VBR: libx264's average bitrate at the preset's rate, a VBV cap at 1.5 times it with
  a buffer of 2 s, so keyframes can take a large share of the GOP's bits as a camera's do;
  ``ipratio`` 1.1 keeps libx264's keyframes from taking more than a third of a GOP's bits;
* sensor grain (:mod:`simulators.grain`): a rendered street is far simpler than a real one, and
  without grain its P-frames are a few hundred bytes whatever the bitrate (nothing changes between
  frames). A grain of sigma 1 luma level, different every frame, gives P-frames the size they have
  on a busy street at these bitrates (measured, ``tests/simulators/test_presets.py``: 720p15
  P-frames ~5 kB, keyframes 60-90 kB).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    width: int
    height: int
    fps: float
    gop_seconds: float
    bitrate: int | None
    """Average bit/s (libx264 ABR); None: CRF 23 under the encoder's automatic cap (360p10)."""
    maxrate: int | None
    """The VBV cap, bit/s (None: the bitrate)."""
    bufsize: int | None
    """The VBV buffer, bits (None: one second of the cap)."""
    ipratio: float | None
    grain: float
    """Sensor grain, standard deviation in luma levels (0: none)."""
    description: str

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop_seconds * self.fps))

    @property
    def nominal_bitrate(self) -> int:
        """The bit/s a stream of this preset is sized at (360p10: what its templates average)."""
        return self.bitrate if self.bitrate is not None else 160_000

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "width": self.width, "height": self.height, "fps": self.fps,
                "gop_seconds": self.gop_seconds, "gop_frames": self.gop_frames,
                "bitrate": self.bitrate, "maxrate": self.maxrate, "bufsize": self.bufsize,
                "ipratio": self.ipratio, "grain": self.grain,
                "description": self.description}


def _cvbr(name: str, width: int, height: int, kbit: int, description: str) -> Preset:
    bitrate = kbit * 1000
    return Preset(name, width, height, 15.0, 2.0, bitrate, bitrate * 3 // 2, bitrate * 2, 1.1,
                  1.0, description)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("360p10", 640, 360, 10.0, 1.0, None, None, None, None, 0.0,
           "rtcc's stream before presets: 640x360, 10 fps, 1 s GOP, ~110-260 kbit/s"),
    _cvbr("720p15", 1280, 720, 1000, "consumer camera: 1280x720, 15 fps, 2 s GOP, 1 Mbit/s"),
    _cvbr("1080p15", 1920, 1080, 2000, "consumer camera: 1920x1080, 15 fps, 2 s GOP, 2 Mbit/s"),
    _cvbr("1536p15", 1536, 1536, 3000,
          "doorbell head-to-toe: 1536x1536, 15 fps, 2 s GOP, 3 Mbit/s"),
)}
NAMES = tuple(PRESETS)


def preset(name: str) -> Preset:
    """The preset called ``name`` (ConfigError listing the names otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"--preset {name!r}: expected one of {', '.join(NAMES)}") from None
