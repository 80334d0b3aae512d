"""Camera models and the defaults a camera feature takes for fields it leaves out.

The numbers come from DOMAIN.md ("Camera optics") and vendors' data sheets:

- Ring Video Doorbell 4: 1920 x 1080, 160 x 84 degrees, mounted at about 1.2 m.
- Ring Video Doorbell Pro 2: 1536 x 1536, 150 x 150 degrees.
- A floodlight camera (Ring Floodlight Cam Wired Pro class): 1920 x 1080, 140 degrees, mounted
  at about 2.7 m (the vendor recommends 9 ft).
- A business camera: a common 2.8 mm 1080p bullet, about 100 degrees, rectilinear, at 3 m.
- A city camera on a pole: 1080p, 60 degrees, rectilinear, at 6 m.

Wide doorbell and floodlight lenses are modelled as fisheye (equidistant), the others as
rectilinear. A camera's default ``range`` is the distance where its native resolution falls to
the DORI "monitor" density (12.5 px/m), rounded to a whole metre: beyond that it shows nothing an
operator could use.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcc.world.dori import band_distance_at


@dataclass(frozen=True, slots=True)
class CameraModel:
    name: str
    type: str
    width: int
    height: int
    fov: float
    """Horizontal field of view, degrees."""
    vfov: float
    lens: str
    mount_height: float

    @property
    def range(self) -> float:
        """Default range: where the native stream falls to 12.5 px/m (DORI monitor)."""
        return float(round(band_distance_at(self.width, self.fov, self.lens, "monitor")))


RING_DOORBELL_4 = CameraModel("Ring Video Doorbell 4", "doorbell", 1920, 1080, 160.0, 84.0,
                              "fisheye", 1.2)
RING_DOORBELL_PRO_2 = CameraModel("Ring Video Doorbell Pro 2", "doorbell", 1536, 1536, 150.0,
                                  150.0, "fisheye", 1.2)
FLOODLIGHT = CameraModel("floodlight camera", "floodlight", 1920, 1080, 140.0, 80.0, "fisheye",
                         2.7)
BUSINESS = CameraModel("business bullet camera", "business", 1920, 1080, 100.0, 56.0,
                       "rectilinear", 3.0)
CITY = CameraModel("city pole camera", "city", 1920, 1080, 60.0, 34.0, "rectilinear", 6.0)

MODELS: tuple[CameraModel, ...] = (RING_DOORBELL_4, RING_DOORBELL_PRO_2, FLOODLIGHT, BUSINESS,
                                   CITY)

DEFAULT_MODEL: dict[str, CameraModel] = {
    "doorbell": RING_DOORBELL_4,
    "floodlight": FLOODLIGHT,
    "business": BUSINESS,
    "city": CITY,
}
"""The model a camera of each ``type`` is assumed to be when the file leaves optics out."""


def delivered_size(model: CameraModel, max_width: int | None) -> tuple[int, int]:
    """The stream size the RTCC receives when the vendor caps the width (aspect ratio kept)."""
    if max_width is None or model.width <= max_width:
        return model.width, model.height
    return max_width, max(1, round(model.height * max_width / model.width))
