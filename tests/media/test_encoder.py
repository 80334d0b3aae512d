"""The libx264 encoder as the simulators use it, checked against FFmpeg's decoder."""

from __future__ import annotations

import av
import numpy as np
import pytest

from rtcc.errors import MediaError
from rtcc.media.encoder import H264Encoder, decode_annexb
from rtcc.media.h264 import NAL_IDR, nal_type, parameter_sets, parse_sps
from tests.media.conftest import busy_frame


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse) if mse else float("inf")


def test_fixed_gop_and_parameter_sets() -> None:
    enc = H264Encoder(320, 240, fps=10, gop_seconds=2.0)
    assert enc.keyint == 20
    aus = [enc.encode(busy_frame(i, 320, 240)) for i in range(45)]
    assert all(au is not None for au in aus)
    keyframes = [i for i, au in enumerate(aus) if au and au.keyframe]
    assert keyframes == [0, 20, 40]
    for i in keyframes:
        au = aus[i]
        assert au is not None
        assert parameter_sets(au.nals) == (enc.sps, enc.pps)
        kinds = [nal_type(n) for n in au.nals]
        assert kinds.index(7) < kinds.index(8) < kinds.index(NAL_IDR)


def test_constrained_baseline_without_b_frames() -> None:
    enc = H264Encoder(640, 360, fps=10)
    assert enc.sps is not None and enc.pps is not None
    info = parse_sps(enc.sps)
    assert (info.profile_idc, info.width, info.height) == (66, 640, 360)
    assert info.constraint_flags & 0x40  # constraint_set1: constrained baseline
    # PPS: pps_id ue(v)=0 "1", sps_id ue(v)=0 "1", then entropy_coding_mode_flag (CABAC) = 0.
    assert enc.pps[1] >> 5 == 0b110
    aus = [enc.encode(busy_frame(i)) for i in range(12)]
    # One access unit out per frame in, in input order: no reordering, so no B-frames.
    assert [au.pts for au in aus if au] == [i * 9000 for i in range(12)]


def test_explicit_pts_pass_through() -> None:
    enc = H264Encoder(160, 120, fps=25)
    stamps = [1000, 4600, 8200, 20000]
    out = [enc.encode(busy_frame(i, 160, 120), pts=t) for i, t in enumerate(stamps)]
    assert [au.pts for au in out if au] == stamps


def test_force_keyframe_restarts_the_gop() -> None:
    enc = H264Encoder(320, 240, fps=10, gop_seconds=1.0)
    aus = []
    for i in range(25):
        if i == 4:
            enc.force_keyframe()
        aus.append(enc.encode(busy_frame(i, 320, 240)))
    assert [i for i, au in enumerate(aus) if au and au.keyframe] == [0, 4, 14, 24]


@pytest.mark.parametrize("bitrate", [None, 1_000_000])
def test_keyframes_well_under_100_kb_on_a_busy_image(bitrate: int | None) -> None:
    enc = H264Encoder(640, 360, fps=10, bitrate=bitrate)
    aus = [enc.encode(busy_frame(i)) for i in range(21)]
    key_sizes = [au.size for au in aus if au and au.keyframe]
    assert len(key_sizes) == 3
    assert max(key_sizes) < 60_000  # VBV: at most one second of the rate cap in one frame


def test_keyframes_bounded_even_on_noise() -> None:
    rng = np.random.default_rng(7)
    enc = H264Encoder(640, 360, fps=10)
    sizes = []
    for _ in range(11):
        au = enc.encode(rng.integers(0, 256, (360, 640, 3), dtype=np.uint8))
        assert au is not None
        sizes.append(au.size)
    # 640*360*10*0.2 bit/s cap with a one-second VBV buffer: < 57.6 kB per frame.
    assert max(sizes) < 57_600 + 2_000


def test_bitrate_is_respected() -> None:
    enc = H264Encoder(640, 360, fps=10, bitrate=300_000)
    total = sum(au.size for i in range(50) if (au := enc.encode(busy_frame(i))))
    assert total * 8 / 5.0 < 300_000 * 1.5


def test_constant_qp_codes_every_frame_at_that_quantiser() -> None:
    # With qp the stream has no rate control: a lower qp means bigger frames, same structure.
    sizes = {}
    for qp in (18, 34):
        enc = H264Encoder(320, 240, fps=10, qp=qp)
        aus = [au for i in range(12) if (au := enc.encode(busy_frame(i, 320, 240)))]
        assert [au.keyframe for au in aus] == [True] + [False] * 9 + [True, False]
        assert len(decode_annexb(b"".join(au.annexb() for au in aus))) == 12
        sizes[qp] = sum(au.size for au in aus)
    assert sizes[18] > 2 * sizes[34]


def test_rgb_yuv_and_videoframe_inputs_agree() -> None:
    rgb = [busy_frame(i, 320, 240) for i in range(5)]
    frames = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
              for f in rgb]
    yuv = [f.to_ndarray() for f in frames]
    outputs = []
    for inputs in (rgb, yuv, frames):
        enc = H264Encoder(320, 240, fps=10)
        outputs.append([au.nals for f in inputs if (au := enc.encode(f))])
    assert outputs[0] == outputs[1] == outputs[2]


def test_decoded_pictures_resemble_the_input() -> None:
    yy, xx = np.mgrid[0:240, 0:320]
    frames = [
        np.stack([(xx + 4 * i) % 256, yy % 256, ((xx + yy) // 2) % 256], -1).astype(np.uint8)
        for i in range(6)
    ]
    enc = H264Encoder(320, 240, fps=10)
    data = b"".join(au.annexb() for f in frames if (au := enc.encode(f)))
    decoded = decode_annexb(data)
    assert len(decoded) == 6
    assert all(_psnr(a, b) > 30 for a, b in zip(decoded, frames, strict=True))
    # And a different picture is clearly different (the comparison can fail).
    assert _psnr(decoded[0], frames[0][:, ::-1]) < 20


def test_flush_and_close() -> None:
    enc = H264Encoder(160, 120, fps=10)
    assert enc.encode(busy_frame(0, 160, 120)) is not None
    assert enc.flush() == []
    enc.close()
    enc.close()  # idempotent
    with pytest.raises(MediaError, match="closed"):
        enc.encode(busy_frame(1, 160, 120))
    with H264Encoder(160, 120, fps=10) as ctx_enc:
        assert ctx_enc.encode(busy_frame(0, 160, 120)) is not None
    with pytest.raises(MediaError, match="closed"):
        ctx_enc.flush()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((240, 320, 3), np.uint8), "neither RGB24"),
        (np.zeros((120, 160, 4), np.uint8), "neither RGB24"),
        (np.zeros((120, 160, 3), np.float32), "uint8"),
        ([[0]], "uint8"),
        (av.VideoFrame(320, 240, "yuv420p"), "320x240"),
    ],
)
def test_bad_frames(frame: object, message: str) -> None:
    enc = H264Encoder(160, 120, fps=10)
    with pytest.raises(MediaError, match=message):
        enc.encode(frame)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 321}, "even"),
        ({"height": 0}, "positive"),
        ({"fps": 0}, "fps"),
        ({"gop_seconds": 2.5}, "gop_seconds"),
        ({"bitrate": 5}, "too low"),
        ({"qp": 52}, "qp 52 out of range"),
        ({"qp": 20, "bitrate": 300_000}, "not both"),
        ({"preset": "warp9"}, "cannot open libx264"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    args = {"width": 160, "height": 120, "fps": 10.0, **kwargs}
    with pytest.raises(MediaError, match=message):
        H264Encoder(**args)


def test_decode_rejects_garbage() -> None:
    with pytest.raises(MediaError):
        decode_annexb(b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 4)
    assert decode_annexb(b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 4, strict=False) == []
