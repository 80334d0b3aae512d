"""``rtcc sim`` as users run it: a real subprocess serving a synthetic world, pulled by PyAV and
ffprobe, scraped for metrics, stopped with SIGINT/SIGTERM; and bad input as one-line errors."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp
import pytest

from rtcc.cli import main
from tests.sim.conftest import pyav_pull, run_tool


@pytest.mark.slow
async def test_serves_world_cameras_with_metrics_and_stops_on_sigint(sim, world_file) -> None:
    proc = await sim("--world", str(world_file), "--count", "2", "--size", "320x180",
                     "--faults", "spike:cam-00002=2x")
    assert sorted(proc.urls) == ["cam-00001", "cam-00002"]
    url = proc.urls["cam-00001"]
    assert url.startswith("rtsp://127.0.0.1:") and url.endswith("/cams/cam-00001")
    frames = await asyncio.to_thread(pyav_pull, url, "tcp", 10)
    assert len(frames) >= 10 and frames[0].keyframe
    assert all(f.truth is not None and f.truth.cam == "cam-00001" for f in frames)
    assert (frames[0].width, frames[0].height) == (320, 180)
    code, out, err = await run_tool("ffprobe", "-v", "error", "-rtsp_transport", "udp",
                                    "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                                    proc.urls["cam-00002"])
    assert code == 0 and out.strip() == "h264", err
    async with aiohttp.ClientSession() as http, http.get(proc.metrics) as resp:
        assert resp.status == 200
        text = await resp.text()
    assert "rtcc_sim_cameras 2.0" in text
    sent = [line for line in text.splitlines()
            if line.startswith('rtcc_sim_frames_sent_total{camera="cam-00001",transport="tcp"}')]
    assert sent and float(sent[0].split()[-1]) >= 10
    assert 'rtcc_sim_faults_injected_total{kind="spike"} 1.0' in text
    assert 'rtcc_sim_rtsp_responses_total{method="PLAY",status="200"}' in text
    code, err = await proc.stop(signal.SIGINT)
    assert code == 0, err
    assert "rtcc sim: stopped" in err and "Traceback" not in err


async def test_replay_mode_with_auth_stops_on_sigterm(sim, world_file) -> None:
    proc = await sim("--world", str(world_file), "--count", "5", "--replay", "--templates", "2",
                     "--size", "320x180", "--auth", "cam-0000[2-3]=admin:pw")
    assert proc.urls["cam-00002"].startswith("rtsp://admin:***@127.0.0.1:")
    assert proc.urls["cam-00001"].startswith("rtsp://127.0.0.1:")
    port = proc.urls["cam-00001"].split(":")[2].split("/")[0]
    good = f"rtsp://admin:pw@127.0.0.1:{port}/cams/cam-00003"
    pulled, (refused, _, refused_err) = await asyncio.gather(
        asyncio.to_thread(pyav_pull, good, "tcp", 8),
        run_tool("ffprobe", "-v", "error", f"rtsp://127.0.0.1:{port}/cams/cam-00003"))
    assert len(pulled) >= 8 and all(f.truth and f.truth.cam == "cam-00003" for f in pulled)
    assert refused != 0 and "401" in refused_err
    code, err = await proc.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(["sim", "--rtsp-port", "0", "--metrics-port", "0", *args])
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("args,message", [
    (["--faults", "stall:cam-00001@5s"],
     "rtcc sim: --faults: item 1 'stall:cam-00001@5s': stall needs a duration"),
    (["--faults", "loss:nobody=5%"], "no served camera matches 'nobody'"),
    (["--faults", "loss:cam-00001=5%,melt:cam-00001"], "item 2 'melt:cam-00001': unknown fault"),
    (["--cameras", "cam-00001,cam-99999"], "--cameras: no camera 'cam-99999' in the world"),
    (["--count", "1000"], "--count 1000: the world has only 15 cameras"),
    (["--auth", "admin"], "--auth #1: expected USER:PASSWORD"),
    (["--auth", "cam-7=admin:pw"], "--auth #1: no served camera matches 'cam-7'"),
    (["--size", "641x360"], "width and height must be even"),
    (["--fps", "0"], "expected a frame rate in 0.5..60"),
])
def test_bad_flags_are_one_line_errors(capsys, world_file, args, message) -> None:
    code, err = _run(capsys, "--world", str(world_file), *args)
    assert code == 2
    assert message in err


def test_bad_files_are_one_line_errors(capsys, world_file, tmp_path) -> None:
    code, err = _run(capsys, "--world", str(tmp_path / "nope.geojson"))
    assert code == 2 and "nope.geojson: 1 problem" in err and "no such file" in err
    code, err = _run(capsys)
    assert code == 2 and "--world FILE is required" in err
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'world = "{world_file}"\n[faults]\nitems = ["reboot:*@rand(1m)"]\n')
    code, err = _run(capsys, "--scenario", str(scenario))
    assert code == 2
    assert "s.toml [faults] items[0] 'reboot:*@rand(1m)': reboot needs a duration" in err


def test_busy_port_is_a_one_line_error(capsys, world_file) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            code = main(["sim", "--world", str(world_file), "--count", "1", "--size", "64x64",
                         "--rtsp-port", str(port), "--metrics-port", "0"])
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and f"RTSP port {port} on 127.0.0.1" in err and "Traceback" not in err
