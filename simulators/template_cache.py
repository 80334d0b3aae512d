"""Replay templates kept on disk: a 1080p fleet does not render and encode them at every start.

Recording a template means rendering a world camera's background (a ray cast per pixel column)
and encoding a GOP; at 1080p and above that is seconds per template, paid again by every
simulator process of a load test. ``rtcc sim --replay --template-cache DIR`` stores each recorded
template in ``DIR`` under a key that names everything it depends on (the world file's bytes, the
camera, the scene's seed, rates and simulated hour, the stream settings, the loop length, and the
versions of rtcc and PyAV, whose libx264 encodes it) and loads it from there next time.

The file format is plain data (never pickle: a cache directory may be shared): one line of JSON
(the template's settings and, per frame, whether it is a keyframe, the lengths of its NAL units
and its subjects' JSON) followed by the NAL units' bytes back to back. A file that does not parse
is ignored (and replaced), never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtcc.media.sei import GroundTruth
from simulators.replay import Template, make_template, template_frame

log = logging.getLogger(__name__)

FORMAT = "rtcc-template/1"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (the world's part of the key)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class TemplateCache:
    directory: Path
    base: tuple[tuple[str, str], ...]
    """What every template of this fleet depends on (world digest, seed, stream settings...),
    as sorted (name, value) pairs."""

    @classmethod
    def of(cls, directory: Path, **base: Any) -> TemplateCache:
        import av

        import rtcc

        parts = {"format": FORMAT, "rtcc": rtcc.__version__, "av": av.__version__, **base}
        return cls(directory, tuple(sorted((k, json.dumps(v, sort_keys=True, default=str))
                                           for k, v in parts.items())))

    def key(self, camera_id: str) -> str:
        doc = json.dumps([*self.base, ("camera", camera_id)])
        return hashlib.sha256(doc.encode()).hexdigest()[:32]

    def path(self, camera_id: str) -> Path:
        return self.directory / f"{self.key(camera_id)}.tpl"

    def load(self, camera_id: str) -> Template | None:
        """The stored template of this camera, or None (missing or unreadable)."""
        path = self.path(camera_id)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            return decode(raw)
        except (ValueError, KeyError, TypeError, IndexError) as err:
            log.warning("template cache: %s is unreadable (%s); recording it again", path, err)
            return None

    def store(self, camera_id: str, template: Template) -> None:
        """Write atomically (a concurrent simulator reads either nothing or the whole file)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(camera_id)
        fd, tmp = tempfile.mkstemp(prefix=".tpl-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(encode(template))
            os.replace(tmp, path)
        except OSError as err:
            log.warning("template cache: cannot write %s: %s", path, err)
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def encode(template: Template) -> bytes:
    frames = []
    blobs = [template.sps, template.pps]
    for f in template.frames:
        nals = (*f.head, *f.body)
        frames.append([f.keyframe, [len(n) for n in nals], f.subjects_json.decode()])
        blobs.extend(nals)
    header = {"format": FORMAT, "name": template.name, "fps": template.fps,
              "width": template.width, "height": template.height,
              "sps": len(template.sps), "pps": len(template.pps), "frames": frames}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + b"".join(blobs)


def decode(raw: bytes) -> Template:
    line, sep, body = raw.partition(b"\n")
    if not sep:
        raise ValueError("no header line")
    header = json.loads(line)
    if header.get("format") != FORMAT:
        raise ValueError(f"format {header.get('format')!r}, expected {FORMAT}")
    view = memoryview(body)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if n < 0 or pos + n > len(view):
            raise ValueError("truncated")
        out = bytes(view[pos:pos + n])
        pos += n
        return out

    sps, pps = take(int(header["sps"])), take(int(header["pps"]))
    frames = []
    for keyframe, lengths, subjects_json in header["frames"]:
        nals = tuple(take(int(n)) for n in lengths)
        truth = GroundTruth.from_json(b'{"cam":"x","seq":0,"t":0' + subjects_json.encode())
        frames.append(template_frame(nals, bool(keyframe), truth.subjects))
    if pos != len(view):
        raise ValueError(f"{len(view) - pos} bytes after the last frame")
    return make_template(str(header["name"]), sps, pps, fps=float(header["fps"]),
                         width=int(header["width"]), height=int(header["height"]),
                         frames=frames)
