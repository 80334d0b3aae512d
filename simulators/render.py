"""Per-frame rendering of one camera's view, and the ground truth that goes with it.

:class:`CameraRenderer` renders the static background once (:mod:`simulators.background`), then
per frame only copies it and draws what changes, straight into an I420 (yuv420p) frame the encoder
takes without conversion:

1. people: the scene's people inside the camera's **visibility polygon** (field-of-view sector to
   its range, occluded by buildings: :func:`rtcc.world.visibility.visibility_polygon`) are drawn
   far to near as upright figures 1.6-1.9 m tall, sized by the lens projection, and hidden pixel by
   pixel behind houses using the background's occluder depth. Delivery drivers wear brown and
   carry a parcel; dog walkers have a dog. Exactly these people are the frame's ground truth, with
   their ground distance ``d`` (m) from the camera, the DORI band at that distance for this lens
   and the *delivered* width, and their bounding box in pixels of the delivered frame (clipped to
   it). Someone whose box falls outside the frame (standing right under the lens) is not listed.
2. privacy masks (``camera.masks``, rectangles in normalised frame coordinates, as Ring's privacy
   zones) are blacked out, over the people; a subject is ``masked`` when at least
   ``MASKED_SHARE`` (90 %) of their bounding box is blacked out: nearly nothing of them reaches
   the wall;
3. the overlay: camera id (top left, baked into the background) and the simulated clock (top
   right), white on a darkened box, drawn over the masks as a real camera's OSD is.

The static picture is passed once through libx264 and back (see ``_requantise``) so that it
already sits on the codec's quantisation lattice; daylight variants (dusk, infrared night, see
:mod:`simulators.lighting`) are derived from it a few times a simulated day.
All drawing is numpy on the small bounding boxes of the people; no per-pixel Python loop.
Blocking CPU work: call it from the camera's worker thread.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from rtcc.media.encoder import H264Encoder, decode_annexb
from rtcc.media.sei import Subject
from rtcc.vocabulary import PersonRole
from rtcc.world.dori import band_at
from rtcc.world.model import Camera, World
from rtcc.world.visibility import visibility_polygon
from simulators import colours as col
from simulators.background import Background, render_background
from simulators.figures import Figure, dog_parts, figure_for, parcel_parts, person_parts
from simulators.font import text_layers
from simulators.lighting import ir_gain, lit_background
from simulators.projection import CameraPose
from simulators.scene import SceneState

MASKED_SHARE = 0.9
TEXT_SCALE = 2
_MARGIN = 6


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    frame: np.ndarray
    """(H * 3 / 2, W) uint8 I420."""
    subjects: tuple[Subject, ...]


def mask_rects(camera: Camera, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Privacy masks as pixel rectangles (x0, y0, x1, y1), x1/y1 exclusive, clipped; a mask
    covers every pixel it touches."""
    rects = []
    for m in camera.masks:
        x0 = max(0, math.floor(m.x * width))
        y0 = max(0, math.floor(m.y * height))
        x1 = min(width, math.ceil((m.x + m.w) * width))
        y1 = min(height, math.ceil((m.y + m.h) * height))
        if x1 > x0 and y1 > y0:
            rects.append((x0, y0, x1, y1))
    return rects


Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Writable (Y, U, V) views of one I420 picture; U and V are (H/2, W/2)."""


def _planes(frame: np.ndarray | Planes) -> Planes:
    return col.i420_planes(frame) if isinstance(frame, np.ndarray) else frame


def text_box(frame: np.ndarray | Planes, text: str, x: int, y: int, scale: int = TEXT_SCALE
             ) -> tuple[int, int, int, int]:
    """Darken and desaturate the box behind ``text`` placed at (x, y); returns (x0, y0, x1, y1)
    (even-aligned, clipped to the frame). ``frame`` is an I420 array or its planes."""
    y_pl, u_pl, v_pl = _planes(frame)
    h, w = y_pl.shape
    gh, gw = 7 * scale + 2, 6 * scale * len(text)
    x0, y0 = max(0, x - 2), max(0, y - 2)
    x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    x1, y1 = min(w, x + gw + 2), min(h, y + gh + 2)
    if x1 <= x0 or y1 <= y0:
        return (x0, y0, x0, y0)
    region = y_pl[y0:y1, x0:x1]
    region[:] = (region.astype(np.uint16) * 2 // 5 + 10).astype(np.uint8)
    cs = (slice(y0 // 2, (y1 + 1) // 2), slice(x0 // 2, (x1 + 1) // 2))
    for plane in (u_pl, v_pl):
        plane[cs] = 128 + (plane[cs].astype(np.int16) - 128) * 2 // 5
    return (x0, y0, x1, y1)


def burn_text(frame: np.ndarray | Planes, text: str, x: int, y: int,
              scale: int = TEXT_SCALE) -> None:
    """White letters with a black one-pixel rim, first glyph's top-left pixel at (x, y)."""
    y_pl = _planes(frame)[0]
    h, w = y_pl.shape
    glyphs, rim = text_layers(text, scale)
    gh, gw = rim.shape
    ry0, rx0 = y - 1, x - 1  # the layers carry a one-pixel margin for the rim
    sy0, sx0 = max(0, -ry0), max(0, -rx0)
    sy1, sx1 = min(gh, h - ry0), min(gw, w - rx0)
    if sy1 > sy0 and sx1 > sx0:
        tgt = y_pl[ry0 + sy0:ry0 + sy1, rx0 + sx0:rx0 + sx1]
        tgt[rim[sy0:sy1, sx0:sx1]] = 16
        tgt[glyphs[sy0:sy1, sx0:sx1]] = 235


def draw_text(frame: np.ndarray | Planes, text: str, x: int, y: int, scale: int = TEXT_SCALE
              ) -> tuple[int, int, int, int]:
    """Burn ``text`` on a darkened box (see :func:`text_box` and :func:`burn_text`)."""
    box_ = text_box(frame, text, x, y, scale)
    burn_text(frame, text, x, y, scale)
    return box_


CLOCK_SAMPLE = "2026-01-01 00:00:00"
"""The burned-in clock's format (SimClock.label); its box is pre-darkened in the background."""


class CameraRenderer:
    """Renders one camera's frames at ``width`` x ``height`` (the delivered stream size)."""

    def __init__(self, world: World, camera: Camera, width: int = 640, height: int = 360,
                 *, visibility: shapely.Geometry | None = None,
                 requantise: bool = True) -> None:
        if width % 2 or height % 2 or width < 16 or height < 16:
            raise ValueError(f"frame size {width}x{height}: both must be even and >= 16")
        self.world = world
        self.requantise = requantise
        self.source_camera = camera
        # DORI bands use the width actually delivered, not the sensor's.
        self.camera = dataclasses.replace(camera, width=width, height=height)
        self.width, self.height = width, height
        self.pose = CameraPose.of(self.camera, width, height)
        vis = visibility if visibility is not None else visibility_polygon(world, camera)
        shapely.prepare(vis)
        self.visibility = vis
        minx, miny, maxx, maxy = vis.bounds if not vis.is_empty else (*camera.xy, *camera.xy)
        self.bounds = (minx - 1.0, miny - 1.0, maxx + 1.0, maxy + 1.0)
        mount = world.mount_building(camera)
        bg = render_background(world, self.camera, width, height,
                               exclude=mount.id if mount is not None else None)
        self.occluder = bg.occluder
        self._occluder_c = bg.occluder[::2, ::2]  # a view: chroma samples its top-left pixels
        self._raw = bg
        self.clock_xy = (width - (6 * len(CLOCK_SAMPLE) - 1) * TEXT_SCALE - _MARGIN, _MARGIN)
        self._lit: dict[float, tuple[np.ndarray, Planes]] = {}
        gh, gw = 7 * TEXT_SCALE + 2, 6 * TEXT_SCALE * len(CLOCK_SAMPLE)
        cx, cy = self.clock_xy[0] - 1, self.clock_xy[1] - 1  # the layers' one-pixel margin
        self._clock_area = (slice(max(0, cy), min(height, cy + gh)),
                            slice(max(0, cx), min(width, cx + gw)))
        self._clock_patches: dict[tuple[str, float], np.ndarray] = {}
        self._dirty: list[tuple[int, int, int, int]] | None = None
        self._dirty_light = 1.0
        # The cached-patch fast path needs the whole box in the frame and no mask to respect.
        self._clock_fits = cx >= 0 and cy >= 0 and cx + gw <= width and not camera.masks
        base = self._background(1.0)
        self.background = Background(base, bg.occluder, bg.depth)
        self.masks = mask_rects(camera, width, height)
        self._figures: dict[str, Figure] = {}

    def _background(self, light: float) -> np.ndarray:
        """The static picture for a daylight level, with the camera id burned in and the
        clock's box darkened (the box never moves: only the digits are drawn per frame)."""
        hit = self._lit.get(light)
        if hit is None:
            base = lit_background(self._raw.frame, self._raw.depth, light)
            base = _requantise(base) if self.requantise else base.copy()
            self.id_box = draw_text(base, self.source_camera.id, _MARGIN, _MARGIN)
            self.clock_box = text_box(base, CLOCK_SAMPLE, *self.clock_xy)
            base.flags.writeable = False
            if len(self._lit) >= 3:  # the level changes a few times a day: keep day + recent
                self._lit = {k: v for k, v in self._lit.items() if k == 1.0}
            hit = self._lit[light] = (base, col.i420_planes(base))
        return hit[0]

    def _clock_patch(self, text: str, light: float) -> np.ndarray:
        """The luma of the clock's box with ``text`` burned in, cached per simulated second:
        per frame the clock is then one small block copy (the OSD covers whatever walks
        behind it, as a camera's OSD does)."""
        key = (text, light)
        patch = self._clock_patches.get(key)
        if patch is None:
            rows, cols = self._clock_area
            y_plane = self._lit[light][1][0]
            area = y_plane[rows, cols].copy()
            glyphs, rim = text_layers(text, TEXT_SCALE)
            area[rim[:area.shape[0], :area.shape[1]]] = 16
            area[glyphs[:area.shape[0], :area.shape[1]]] = 235
            if len(self._clock_patches) >= 4:
                self._clock_patches.clear()
            patch = self._clock_patches[key] = area
        return patch

    # -- ground truth -------------------------------------------------------------------------
    def _visible(self, state: SceneState) -> np.ndarray:
        if len(state.ids) == 0 or self.visibility.is_empty:
            return np.zeros(0, dtype=np.int64)
        x, y = state.xy[:, 0], state.xy[:, 1]
        minx, miny, maxx, maxy = self.bounds
        near = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if len(near) == 0:
            return near
        inside = shapely.contains_xy(self.visibility, x[near], y[near])
        return near[inside]

    def _bbox(self, xy: np.ndarray, tall: float, half_width: float = 0.25
              ) -> tuple[float, float, float, float] | None:
        """Projected (x, y, w, h) float box of an upright figure ``tall`` m high and
        ``2 * half_width`` m wide (across the line of sight) standing at ground ``xy``."""
        px, py = float(xy[0]), float(xy[1])
        vx, vy = px - self.pose.x, py - self.pose.y
        n = math.hypot(vx, vy)
        if n < 0.3:
            return None
        sx, sy = -vy / n * half_width, vx / n * half_width
        us, vs = [], []
        for ox, oy in ((sx, sy), (-sx, -sy), (0.0, 0.0)):
            for z in (0.0, tall):
                uv = self.pose.project_point(px + ox, py + oy, z)
                if uv is None:
                    return None
                us.append(uv[0])
                vs.append(uv[1])
        x0, y0 = min(us), min(vs)
        return (x0, y0, max(us) - x0, max(vs) - y0)

    def _clip(self, fb: tuple[float, float, float, float]) -> tuple[int, int, int, int] | None:
        x0, y0 = max(0, math.floor(fb[0])), max(0, math.floor(fb[1]))
        x1 = min(self.width, math.ceil(fb[0] + fb[2]))
        y1 = min(self.height, math.ceil(fb[1] + fb[3]))
        if x1 <= x0 or y1 <= y0:
            return None
        return (x0, y0, x1 - x0, y1 - y0)

    def _masked(self, bbox: tuple[int, int, int, int]) -> bool:
        if not self.masks:
            return False
        x, y, w, h = bbox
        hidden = np.zeros((h, w), dtype=bool)
        for mx0, my0, mx1, my1 in self.masks:
            hidden[max(0, my0 - y):max(0, my1 - y), max(0, mx0 - x):max(0, mx1 - x)] = True
        return bool(hidden.mean() >= MASKED_SHARE)

    def figure(self, pid: str, role: PersonRole) -> Figure:
        fig = self._figures.get(pid)
        if fig is None:
            if len(self._figures) > 4096:
                self._figures.clear()
            fig = self._figures[pid] = figure_for(pid, role)
        return fig

    # -- one frame ------------------------------------------------------------------------------
    def render(self, state: SceneState, clock_text: str | None = None, light: float = 1.0
               ) -> RenderedFrame:
        """Draw the people of ``state`` that this camera sees; return the frame and its truth.

        ``light`` is the daylight level (:func:`simulators.lighting.daylight`): 1 is day, 0 the
        infrared night view."""
        frame = np.empty_like(self.background.frame)
        subjects = self.render_into(col.i420_planes(frame), state, clock_text, light)
        return RenderedFrame(frame, subjects)

    def render_into(self, planes: Planes, state: SceneState, clock_text: str | None = None,
                    light: float = 1.0, *, reuse: bool = False) -> tuple[Subject, ...]:
        """Like :meth:`render`, drawing into the given (Y, U, V) planes (e.g. the buffers of an
        ``av.VideoFrame``, which saves the encoder a copy); returns the ground truth.

        ``reuse=True`` promises that ``planes`` hold, untouched, what the previous
        ``reuse=True`` call drew: then only the boxes drawn last time are restored from the
        background instead of copying the whole picture (a fleet's pictures are cold in the
        CPU caches; the full copy is most of a frame's memory traffic)."""
        self._background(light)
        base = self._lit[light][1]
        if reuse and self._dirty is not None and light == self._dirty_light:
            for ry0, ry1, rx0, rx1 in self._dirty:
                planes[0][ry0:ry1, rx0:rx1] = base[0][ry0:ry1, rx0:rx1]
                cy, cx = slice(ry0 // 2, (ry1 + 1) // 2), slice(rx0 // 2, (rx1 + 1) // 2)
                planes[1][cy, cx] = base[1][cy, cx]
                planes[2][cy, cx] = base[2][cy, cx]
        else:
            for dst, src in zip(planes, base, strict=True):
                np.copyto(dst, src)
        drawn: list[tuple[int, int, int, int]] = []
        rows = []
        for i in self._visible(state):
            xy = state.xy[i]
            pid, role = str(state.ids[i]), state.roles[i]  # roles checked by the scene
            fig = self.figure(pid, role)
            fb = self._bbox(xy, fig.height)
            bbox = self._clip(fb) if fb is not None else None
            if fb is None or bbox is None:
                continue
            d = float(np.hypot(xy[0] - self.pose.x, xy[1] - self.pose.y))
            rows.append((d, pid, state.households[i], role, fb, bbox, fig, xy))
        rows.sort(key=lambda r: (r[0], r[1]))
        for d, _pid, _hh, _role, fb, _bbox, fig, xy in reversed(rows):  # far to near
            if fig.dog is not None:
                self._draw_dog(planes, xy, d, fig, light, drawn)
            self._paint(planes, fb, d, parcel_parts if fig.parcel else person_parts,
                        _lit_palette(fig.palette, light, d), drawn)
        subjects = tuple(
            # d as the SEI carries it (0.1 m), so a frame's truth equals its parsed SEI.
            Subject(id=pid, household=hh, role=role, d=round(d, 1), band=band_at(self.camera, d),
                    bbox=bbox, masked=self._masked(bbox))
            for d, pid, hh, role, _fb, bbox, _fig, _xy in rows)
        for x0, y0, x1, y1 in self.masks:
            planes[0][y0:y1, x0:x1] = 16
            planes[1][y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2] = 128
            planes[2][y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2] = 128
        if self.masks:  # the OSD stays on top of the masks, as on a real camera
            draw_text(planes, self.source_camera.id, _MARGIN, _MARGIN)
            text_box(planes, CLOCK_SAMPLE, *self.clock_xy)
        if clock_text and len(clock_text) == len(CLOCK_SAMPLE) and self._clock_fits:
            area_rows, area_cols = self._clock_area
            planes[0][area_rows, area_cols] = self._clock_patch(clock_text, light)
            drawn.append((area_rows.start, area_rows.stop, area_cols.start, area_cols.stop))
        elif clock_text and len(clock_text) == len(CLOCK_SAMPLE):
            burn_text(planes, clock_text, *self.clock_xy)
        elif clock_text:
            tw = (6 * len(clock_text) - 1) * TEXT_SCALE
            draw_text(planes, clock_text, self.width - tw - _MARGIN, _MARGIN)
        if reuse:
            # Masks and the OSD over them are redrawn relative to what is there: only a
            # picture without them can be patched up box by box next time.
            incremental = self._clock_fits and not self.masks and (
                not clock_text or len(clock_text) == len(CLOCK_SAMPLE))
            self._dirty = drawn if incremental else None
            self._dirty_light = light
        return subjects

    def _draw_dog(self, planes: Planes, xy: np.ndarray, d: float, fig: Figure,
                  light: float, drawn: list[tuple[int, int, int, int]]) -> None:
        """A dog (0.8 m long, 0.55 m high) trotting beside its walker, on the lens's side."""
        vx, vy = float(xy[0]) - self.pose.x, float(xy[1]) - self.pose.y
        n = max(math.hypot(vx, vy), 1e-9)
        at = np.array([xy[0] - vy / n * 0.55, xy[1] + vx / n * 0.55])
        fb = self._bbox(at, 0.55, half_width=0.4)
        if fb is not None:
            assert fig.dog is not None
            self._paint(planes, fb, d, dog_parts, _lit_palette(fig.dog, light, d), drawn)

    def _paint(self, planes: Planes, fb: tuple[float, float, float, float],
               d: float, parts: PartMap, palette: np.ndarray,
               drawn: list[tuple[int, int, int, int]]) -> None:
        """Paint a figure into its box, hidden behind buildings nearer than ``d``; the luma box
        touched (y0, y1, x0, x1, clipped) is appended to ``drawn``.

        The part map is evaluated once per (box size, figure kind) and cached; chroma takes every
        other sample of it (the luma pixel at the top-left of each 2x2 block)."""
        x0, y0 = round(fb[0]), round(fb[1])
        w, h = round(fb[2]), round(fb[3])
        if w < 1 or h < 1:
            return
        drawn.append((max(0, y0), min(self.height, y0 + h), max(0, x0),
                      min(self.width, x0 + w)))
        part = _template(parts, w, h)
        for plane_i in range(3):
            step = 1 if plane_i == 0 else 2
            plane = planes[plane_i]
            occ = self.occluder if step == 1 else self._occluder_c
            ph, pw = plane.shape
            # First plane pixel whose top-left luma sample lies inside the box.
            c0, r0 = -(-x0 // step), -(-y0 // step)
            c1, r1 = min(pw, -(-(x0 + w) // step)), min(ph, -(-(y0 + h) // step))
            c0c, r0c = max(c0, 0), max(r0, 0)
            if c1 <= c0c or r1 <= r0c:
                continue
            sub = part[r0c * step - y0:r1 * step - y0:step, c0c * step - x0:c1 * step - x0:step]
            draw = (sub > 0) & (occ[r0c:r1, c0c:c1] > d)
            region = plane[r0c:r1, c0c:c1]
            region[draw] = palette[sub[draw], plane_i]


PartMap = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _requantise(frame: np.ndarray) -> np.ndarray:
    """The picture as libx264 reconstructs it after one keyframe at the default quality.

    Fed a background that already sits on the codec's quantisation lattice, the encoder stops
    re-refining the static texture in every P-frame: P-frames halve in size and encoding gets
    about a fifth cheaper (load_tests/bench_render.py), at no visible cost.
    """
    h, w = frame.shape[0] * 2 // 3, frame.shape[1]
    with H264Encoder(w, h, 10.0) as enc:
        au = enc.encode(frame)
        aus = ([au] if au is not None else []) + enc.flush()
    decoded = decode_annexb(b"".join(a.annexb() for a in aus), format="yuv420p")
    return np.ascontiguousarray(decoded[0], dtype=np.uint8).reshape(frame.shape)


def _lit_palette(palette: np.ndarray, light: float, d: float) -> np.ndarray:
    """A figure's colours under the light: as they are by day, dimmed at dusk, infrared grey
    (bright near the lens) at night."""
    if light >= 1.0:
        return palette
    out = palette.astype(np.float32)
    gain = ir_gain(d) if light <= 0.0 else 0.35 + 0.65 * light
    out[:, 0] = 16 + (out[:, 0] - 16) * gain
    out[:, 1:] = 128 + (out[:, 1:] - 128) * (0.0 if light <= 0.0 else gain)
    return np.clip(out, 0, 255).astype(np.uint8)


@lru_cache(maxsize=4096)
def _template(parts: PartMap, w: int, h: int) -> np.ndarray:
    """The part map of a ``w`` x ``h`` box, sampled at pixel centres (read-only, cached)."""
    a = ((np.arange(w) + 0.5) / w)[None, :]
    b = ((np.arange(h) + 0.5) / h)[:, None]
    out = parts(a, b).astype(np.uint8)
    out.flags.writeable = False
    return out
