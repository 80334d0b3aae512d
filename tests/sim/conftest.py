"""Shared fixtures for tests/sim: fleets of test-pattern cameras, a raw RTSP client speaking the
protocol byte by byte, and third-party pullers (PyAV in a thread, ffmpeg/ffprobe/GStreamer as
subprocesses) so that a real client runs while the server under test lives on the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from rtcc.media.h264 import split_annexb
from rtcc.media.rtp import H264Depacketizer, ReceivedAccessUnit, parse_rtcp
from rtcc.media.sei import GroundTruth, find_ground_truth
from rtcc.world.geojson import save_world
from rtcc.world.synth import synthesize
from simulators.auth import Credentials, digest_response, parse_auth_params
from simulators.fault_spec import parse_faults
from simulators.fleet import Fleet, FleetOptions
from simulators.fleet_setup import pattern_plans
from simulators.pattern import BAR_BITS

SMALL = (320, 180)
"""Test streams are small: the tests check protocol and plumbing, not picture quality."""


# --- fleets -----------------------------------------------------------------------------------


@pytest.fixture
async def make_fleet() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await make_fleet(n, replay=False, faults="", credentials=None, **options)``
    -> a started Fleet of pattern cameras ``cam-0``..``cam-{n-1}`` on a free port."""
    fleets: list[Fleet] = []

    async def make(n: int = 2, *, replay: bool = False, faults: str = "",
                   credentials: dict[str, Credentials] | None = None,
                   ids: Sequence[str] | None = None, size: tuple[int, int] = SMALL,
                   on_consent: Sequence[Callable[..., None]] = (), **options: Any) -> Fleet:
        cam_ids = list(ids) if ids is not None else [f"cam-{i}" for i in range(n)]
        fps = options.pop("fps", 10.0)
        plans = pattern_plans(cam_ids, width=size[0], height=size[1], fps=fps,
                              credentials=credentials)
        opts = FleetOptions(fps=fps, width=size[0], height=size[1], replay=replay,
                            rtsp_port=0, workers=2, seed=options.pop("seed", 7), **options)
        fleet = Fleet(plans, opts, faults=parse_faults(faults), on_consent=on_consent)
        fleets.append(fleet)
        await fleet.start()
        return fleet

    yield make
    for fleet in fleets:
        await fleet.close()


# --- a raw RTSP client --------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def session(self) -> str | None:
        value = self.header("session")
        return value.split(";")[0].strip() if value else None


@dataclass
class RawRtsp:
    """A deliberately dumb RTSP client over one TCP connection (asyncio streams)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    port: int
    cseq: int = 0
    buf: bytearray = field(default_factory=bytearray)
    frames: list[tuple[int, bytes]] = field(default_factory=list)
    credentials: Credentials | None = None
    _challenge: dict[str, str] | None = None

    @classmethod
    async def connect(cls, port: int, *, rcvbuf: int | None = None) -> RawRtsp:
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            import socket

            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            # a small limit: the stream stops reading the socket once 2 KB wait unread
            reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        return cls(reader, writer, port)

    def url(self, camera: str, track: str | None = None) -> str:
        base = f"rtsp://127.0.0.1:{self.port}/cams/{camera}"
        return f"{base}/{track}" if track else base

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, uri: str, headers: dict[str, str] | None = None,
                      body: bytes = b"", *, within: float = 5.0) -> Reply:
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        hdrs = dict(headers or {})
        if self.credentials is not None and self._challenge is not None:
            c = self._challenge
            resp = digest_response(self.credentials, c["realm"], method, uri, c["nonce"])
            hdrs["Authorization"] = (
                f'Digest username="{self.credentials.username}", realm="{c["realm"]}", '
                f'nonce="{c["nonce"]}", uri="{uri}", response="{resp}"')
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        await self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        reply = await self.read_reply(within)
        if reply.status == 401 and self.credentials is not None and self._challenge is None:
            scheme, _, params = (reply.header("www-authenticate") or "").partition(" ")
            assert scheme == "Digest"
            self._challenge = parse_auth_params(params)
            return await self.request(method, uri, headers, body, within=within)
        return reply

    async def _fill(self, within: float) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), within)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _take_frame(self) -> bool:
        buf = self.buf
        if len(buf) >= 4 and buf[0] == 0x24:
            size = (buf[2] << 8) | buf[3]
            if len(buf) >= 4 + size:
                self.frames.append((buf[1], bytes(buf[4 : 4 + size])))
                del buf[: 4 + size]
                return True
        return False

    async def read_reply(self, within: float = 5.0) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            while self._take_frame():
                pass
            if self.buf[:5] == b"RTSP/":
                end = self.buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = self.buf[:end].decode("latin-1").split("\r\n")
                    headers = {}
                    for line in head[1:]:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                    length = int(headers.get("content-length", "0"))
                    if len(self.buf) >= end + 4 + length:
                        body = bytes(self.buf[end + 4 : end + 4 + length])
                        del self.buf[: end + 4 + length]
                        _, status, reason = head[0].split(" ", 2)
                        return Reply(int(status), reason, headers, body)
            await self._fill(max(0.01, deadline - loop.time()))

    async def read_frames(self, seconds: float) -> list[tuple[int, bytes]]:
        """Every interleaved frame arriving within ``seconds`` (plus those already buffered)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        with contextlib.suppress(TimeoutError):
            while loop.time() < deadline:
                while self._take_frame():
                    pass
                await self._fill(max(0.01, deadline - loop.time()))
        while self._take_frame():
            pass
        out, self.frames = self.frames, []
        return out

    async def wait_closed(self, within: float) -> bool:
        """True when the server closes the connection within ``within`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        try:
            while loop.time() < deadline:
                await self._fill(max(0.01, deadline - loop.time()))
                self.buf.clear()
        except (ConnectionError, OSError):
            return True
        except TimeoutError:
            return False
        return False

    async def play(self, camera: str, *, udp_ports: tuple[int, int] | None = None,
                   channels: tuple[int, int] = (0, 1)) -> Reply:
        """DESCRIBE, SETUP (TCP interleaved unless udp_ports), PLAY: the PLAY reply."""
        reply = await self.request("DESCRIBE", self.url(camera), {"Accept": "application/sdp"})
        assert reply.status == 200, reply
        if udp_ports:
            transport = f"RTP/AVP;unicast;client_port={udp_ports[0]}-{udp_ports[1]}"
        else:
            transport = f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]}"
        reply = await self.request("SETUP", self.url(camera, "trackID=0"),
                                   {"Transport": transport})
        assert reply.status == 200, reply
        session = reply.session
        assert session
        self.session = session
        reply = await self.request("PLAY", self.url(camera), {"Session": session,
                                                              "Range": "npt=0.000-"})
        assert reply.status == 200, reply
        return reply

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


@pytest.fixture
async def rtsp_clients() -> AsyncIterator[Callable[..., Any]]:
    """Factory ``await rtsp_clients(port, rcvbuf=None)`` -> RawRtsp, closed after the test."""
    clients: list[RawRtsp] = []

    async def make(port: int, *, rcvbuf: int | None = None) -> RawRtsp:
        client = await RawRtsp.connect(port, rcvbuf=rcvbuf)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def access_units(frames: Sequence[tuple[int, bytes]], channel: int = 0
                 ) -> list[ReceivedAccessUnit]:
    """Depacketize the RTP of one interleaved channel. Access units end at their marker bit;
    a last one cut off by the end of the capture window is left out (no flush)."""
    depack = H264Depacketizer()
    out: list[ReceivedAccessUnit] = []
    for ch, payload in frames:
        if ch == channel:
            out += depack.feed(payload)
    return out


def sender_reports(frames: Sequence[tuple[int, bytes]], channel: int = 1) -> list[Any]:
    return [p for ch, data in frames if ch == channel for p in parse_rtcp(data)]


def sprop(sdp: str) -> tuple[bytes, bytes]:
    for line in sdp.splitlines():
        if "sprop-parameter-sets=" in line:
            value = line.split("sprop-parameter-sets=")[1].split(";")[0]
            sps, pps = value.split(",")
            return base64.b64decode(sps), base64.b64decode(pps)
    raise AssertionError("no sprop-parameter-sets in SDP")


# --- third-party pullers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pulled:
    pts: int | None
    keyframe: bool
    truth: GroundTruth | None
    barcode: int | None
    """The frame number drawn into the decoded picture by PatternCamera."""
    width: int
    height: int


def read_barcode(gray: np.ndarray) -> int:
    """The PatternCamera frame number from a decoded grey picture."""
    cell = gray.shape[1] // BAR_BITS
    value = 0
    for bit in range(BAR_BITS):
        if gray[4:12, bit * cell + 2 : (bit + 1) * cell - 2].mean() > 128:
            value |= 1 << bit
    return value


def pyav_pull(url: str, transport: str, frames: int, timeout: float = 10.0) -> list[Pulled]:
    """Blocking: pull ``frames`` decoded frames with PyAV (run it in a thread)."""
    options = {"rtsp_transport": transport, "analyzeduration": "0", "probesize": "32"}
    out: list[Pulled] = []
    with av.open(url, options=options, timeout=timeout) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            truth = find_ground_truth(split_annexb(bytes(packet)))
            for frame in packet.decode():
                gray = frame.to_ndarray(format="gray")
                out.append(Pulled(packet.pts, packet.is_keyframe, truth, read_barcode(gray),
                                  frame.width, frame.height))
            if len(out) >= frames:
                break
    return out


async def run_tool(*argv: str, within: float = 20.0) -> tuple[int, str, str]:
    """Run a third-party tool; (returncode, stdout, stderr). Killed (SIGKILL) on timeout."""
    assert shutil.which(argv[0]), f"{argv[0]} is not installed (./run setup installs it)"
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


# --- rtcc sim as a subprocess -------------------------------------------------------------


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("world") / "street.geojson"
    save_world(synthesize(40, 1, stream_width=640), path)
    return path


class SimProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.urls: dict[str, str] = {}
        self.metrics = ""

    async def ready(self) -> None:
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                assert line, "rtcc sim exited before it was ready"
                name, _, url = line.strip().partition(" ")
                if name == "metrics":
                    self.metrics = url
                    return
                self.urls[name] = url

    async def stop(self, sig: int) -> tuple[int, str]:
        self.proc.send_signal(sig)
        async with asyncio.timeout(15):
            _, err = await self.proc.communicate()
        return self.proc.returncode or 0, err.decode()


@pytest.fixture
async def sim() -> AsyncIterator[object]:
    procs: list[asyncio.subprocess.Process] = []

    async def start(*args: str) -> SimProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rtcc.cli", "sim", "--rtsp-port", "0", "--metrics-port", "0",
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        procs.append(proc)
        sim = SimProcess(proc)
        await sim.ready()
        return sim

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
