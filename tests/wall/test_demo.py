"""``rtcc demo`` as a new user runs it: one command, a wall URL and a login that work."""

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from rtcc.wall.protocol import unpack_frame

ROOT = Path(__file__).resolve().parents[2]


def found(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the demo's output:\n{text}"
    return match.groups()


def rtcc(*args: str) -> list[str]:
    return [sys.executable, "-m", "rtcc", *args]


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_demo_runs_everything_and_stops_by_itself():
    proc = await asyncio.create_subprocess_exec(
        *rtcc("demo", "--replay", "--port", "0", "--duration", "30", "--log-level", "warning"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    # Drained all along: a demo that logs more than a pipe holds must not block on stderr.
    assert proc.stderr is not None
    stderr = asyncio.create_task(proc.stderr.read())
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
            assert line, "".join(out)
            out.append(line)
            if "(a home the police may ask for clips)" in line:  # the banner's last login
                break
        text = "".join(out)
        # The world-analysis section comes first, then the wall.
        assert text.startswith("rtcc demo: the world\n")
        assert re.search(r"80 households, 49 cameras: 16 live", text), text
        url = found(r"(http://127\.0\.0\.1:\d+)/wall/", text)[0]
        user, password = found(r"login: (\S+)\s+password: (\S+)", text)
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{url}/api/login",
                                json={"username": user, "password": password})
            assert r.status == 200, await r.text()
            token = (await r.json())["token"]
            auth = {"Authorization": f"Bearer {token}"}
            cams = (await (await http.get(f"{url}/api/wall/cameras", headers=auth)).json())
            live = [c["id"] for c in cams["cameras"] if c["live"]]
            assert len(live) == 16
            mapdoc = await (await http.get(f"{url}/api/wall/map", headers=auth)).json()
            assert mapdoc["type"] == "FeatureCollection"
            page = await (await http.get(f"{url}/wall/")).text()
            assert "RTCC" in page
            # The residents' app, and a login for each of its two homes.
            assert f"the residents' app is at {url}/home/" in text
            homes = re.findall(r"login: (\S+)\s+password: (\S+)\s+\((a home [^)]*)\)", text)
            assert [what for *_, what in homes] == [
                "a home that shares its camera live", "a home the police may ask for clips"]
            tiers = []
            for name, secret, _ in homes:
                r = await http.post(f"{url}/api/login", json={"username": name,
                                                              "password": secret})
                assert r.status == 200, await r.text()
                mine = await (await http.get(f"{url}/api/home", headers={
                    "Authorization": f"Bearer {(await r.json())['token']}"})).json()
                tiers.append({c["tier"] for c in mine["cameras"]})
            assert "live" in tiers[0] and "request" in tiers[1]
            assert "My home cameras" in await (await http.get(f"{url}/home/")).text()
            async with http.ws_connect(f"{url}/wall/ws") as ws:
                await ws.send_json({"op": "auth", "token": token})
                for cam in live:
                    await ws.send_json({"op": "sub", "cam": cam})
                seen: set[int] = set()
                indices: set[int] = set()
                until = time.monotonic() + 15
                while len(seen) < 16 and time.monotonic() < until:
                    msg = await ws.receive(timeout=until - time.monotonic())
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        seen.add(unpack_frame(msg.data)[0].camera)
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        doc = json.loads(msg.data)
                        if doc["op"] == "sub":
                            indices.add(doc["idx"])
                assert len(seen) == 16 and seen <= indices  # video from every simulated camera
        try:
            rest = (await asyncio.wait_for(proc.stdout.read(), 60)).decode()
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        except TimeoutError:
            raise AssertionError(f"the demo did not stop:\n{await _where(proc, stderr)}") \
                from None
        assert "rtcc demo: stopped" in rest
        workdir = Path(found(r"log (/tmp/rtcc-demo-\w+)/sim\.log", text)[0])
        assert not await asyncio.to_thread(workdir.exists)  # the private state is gone
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr


async def _where(proc: asyncio.subprocess.Process, stderr: asyncio.Task[bytes]) -> str:
    """What a hung demo is doing: its processes, and every thread's stack (SIGUSR1, see
    rtcc.cli.main) at the end of its stderr."""
    ps = ["ps", "-o", "pid,ppid,stat,etime,args", "--ppid", str(proc.pid), "-p", str(proc.pid)]
    tree = (await asyncio.to_thread(subprocess.run, ps, capture_output=True, text=True)).stdout
    if proc.returncode is None:
        proc.send_signal(signal.SIGUSR1)
        await asyncio.sleep(2)
        proc.kill()
    err = (await asyncio.wait_for(stderr, 10)).decode(errors="replace")
    return f"{tree}\n{err[-20000:]}"


@pytest.mark.parametrize("args, message", [
    (["--world", "/nonexistent/world.geojson"], "/nonexistent/world.geojson"),
    (["--phase", "pilot"], "--phase needs --scenario"),
    (["--scenario", "no-such-scenario"], "no-such-scenario"),
    (["--size", "641x360"], "even WIDTHxHEIGHT"),
    (["--cameras", "0"], "expected a number >= 1"),
])
def test_bad_input_is_one_precise_line(args, message):
    proc = subprocess.run(rtcc("demo", *args), cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_demo_on_a_world_imported_from_openstreetmap(tmp_path: Path) -> None:
    """``rtcc world import`` of a piece of Helsinki, then ``rtcc demo --world`` on it: the wall's
    map is the real streets, with the map data's credit."""
    from tests.world.osmdata import helsinki

    world = tmp_path / "kamppi.geojson"
    made = await asyncio.create_subprocess_exec(
        *rtcc("world", "import", str(helsinki()), "--bbox", "24.930,60.163,24.940,60.168",
              "-o", str(world)), cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    _, err = await made.communicate()
    assert made.returncode == 0, err.decode()
    proc = await asyncio.create_subprocess_exec(
        *rtcc("demo", "--world", str(world), "--cameras", "2", "--port", "0", "--duration", "25",
              "--log-level", "warning"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    stderr = asyncio.create_task(proc.stderr.read())
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
            assert line, "".join(out) + (await asyncio.wait_for(stderr, 10)).decode()[-3000:]
            out.append(line)
            if "password:" in line:
                break
        text = "".join(out)
        assert f"world file {world}" in text
        url = found(r"(http://127\.0\.0\.1:\d+)/wall/", text)[0]
        user, password = found(r"login: (\S+)\s+password: (\S+)", text)
        async with aiohttp.ClientSession() as http:
            r = await http.post(f"{url}/api/login",
                                json={"username": user, "password": password})
            assert r.status == 200, await r.text()
            auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
            mapdoc = await (await http.get(f"{url}/api/wall/map", headers=auth)).json()
        assert mapdoc["attribution"] == "© OpenStreetMap contributors"
        streets = [f for f in mapdoc["features"] if f["properties"]["kind"] == "street"]
        assert len(streets) > 50
        assert all(f["properties"]["id"].startswith(("w", "sw-w")) for f in streets)
        west, south, east, north = mapdoc["bbox"]
        assert 24.92 < west < east < 24.95 and 60.16 < south < north < 60.17  # Kamppi, Helsinki
        try:
            await asyncio.wait_for(proc.stdout.read(), 60)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        except TimeoutError:
            raise AssertionError(f"the demo did not stop:\n{await _where(proc, stderr)}") \
                from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        stderr.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stderr
