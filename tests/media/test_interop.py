"""Third-party receivers of what rtcc.media produces: FFmpeg and GStreamer read our SDP, receive
our RTP packets over loopback UDP and decode pictures identical to the encoder's own output."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import numpy as np

from rtcc.media.encoder import decode_annexb
from rtcc.media.rtp import H264Packetizer
from rtcc.media.sdp import build_rtsp_sdp
from rtcc.media.sei import GroundTruth, Subject, build_sei_nal, insert_sei
from tests.media.conftest import encode_frames

WIDTH, HEIGHT, FRAMES = 320, 240, 12


def _free_even_udp_port() -> int:
    """An even loopback port (RTP convention: RTCP on port + 1); bounded attempts."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port % 2 == 0 and port < 65534:
            return port
    raise AssertionError("no even UDP port found")


def _udp_bound(port: int) -> bool:
    suffix = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            if any(line.split()[1].endswith(suffix) for line in f.readlines()[1:]):
                return True
    return False


def _run_receiver(cmd: list[str], port: int, out: Path, expected_bytes: int) -> bytes:
    """Start a receiver, wait until it listens, send the stream, wait for its output."""
    enc, aus = encode_frames(FRAMES + 2, WIDTH, HEIGHT)
    pk = H264Packetizer(0x5EED, mtu=1200)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not _udp_bound(port):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "receiver never bound its UDP port"
            time.sleep(0.02)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i, au in enumerate(aus):
                gt = GroundTruth("cam-x", i, i * 100_000, (
                    Subject("p1", "hh-1", "visitor", 3.0, "identify", (1, 2, 3, 4), False),))
                for packet in pk.packetize(insert_sei(au.nals, build_sei_nal(gt)), au.pts):
                    sock.sendto(packet, ("127.0.0.1", port))
                time.sleep(0.005)  # stay well inside the receiver's socket buffer
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if out.exists() and out.stat().st_size >= expected_bytes:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert b"rror" not in err, err.decode(errors="replace")
    return out.read_bytes()


def _sdp_file(tmp_path: Path, port: int) -> Path:
    enc, _ = encode_frames(1, WIDTH, HEIGHT)
    text = build_rtsp_sdp(session_name="interop", sps=enc.sps, pps=enc.pps, framerate=10)
    # RTSP gives the port in SETUP; a plain SDP file must carry it in the m= line.
    text = text.replace("m=video 0 ", f"m=video {port} ").replace(
        "c=IN IP4 0.0.0.0", "c=IN IP4 127.0.0.1")
    path = tmp_path / "stream.sdp"
    path.write_text(text)
    return path


def _reference_yuv() -> np.ndarray:
    _, aus = encode_frames(FRAMES, WIDTH, HEIGHT)
    frames = decode_annexb(b"".join(au.annexb() for au in aus), format="yuv420p")
    return np.stack(frames)


def test_ffmpeg_receives_our_rtp_with_our_sdp(tmp_path: Path) -> None:
    port = _free_even_udp_port()
    sdp = _sdp_file(tmp_path, port)
    out = tmp_path / "ffmpeg.yuv"
    frame_bytes = WIDTH * HEIGHT * 3 // 2
    cmd = [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
        "-protocol_whitelist", "file,udp,rtp", "-threads", "1", "-reorder_queue_size", "0",
        "-analyzeduration", "0", "-probesize", "32", "-i", str(sdp),
        "-frames:v", str(FRAMES), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-y", str(out),
    ]
    data = _run_receiver(cmd, port, out, FRAMES * frame_bytes)
    got = np.frombuffer(data, np.uint8).reshape(-1, HEIGHT * 3 // 2, WIDTH)
    assert np.array_equal(got, _reference_yuv())


def test_gstreamer_receives_our_rtp_with_our_sdp(tmp_path: Path) -> None:
    port = _free_even_udp_port()
    sdp = _sdp_file(tmp_path, port)
    out = tmp_path / "gst.yuv"
    frame_bytes = WIDTH * HEIGHT * 3 // 2
    cmd = [
        "gst-launch-1.0", "-q", "filesrc", f"location={sdp}", "!", "sdpdemux", "!",
        "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!", "videoconvert", "!",
        "video/x-raw,format=I420", "!", "filesink", f"location={out}",
    ]
    data = _run_receiver(cmd, port, out, FRAMES * frame_bytes)
    got = np.frombuffer(data[: FRAMES * frame_bytes], np.uint8).reshape(-1, HEIGHT * 3 // 2,
                                                                         WIDTH)
    assert np.array_equal(got, _reference_yuv())
