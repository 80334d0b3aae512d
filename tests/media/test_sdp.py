"""SDP: what rtcc writes, what real servers and cameras write, and malformed input."""

from __future__ import annotations

import base64
import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.media.h264 import parse_sps
from rtcc.media.sdp import (
    build_rtsp_sdp,
    parse_sdp,
    resolve_control,
    sprop_parameter_sets,
)

# Parameter sets of rtcc's own 640x360 baseline encoder.
SPS = base64.b64decode("Z0LAFtoCgL/lhAAAAwAEAAADAFI8WLqA")
PPS = base64.b64decode("aM4PyA==")


def test_build_rtsp_sdp_text() -> None:
    text = build_rtsp_sdp(session_name="cam-0007", sps=SPS, pps=PPS, session_id=123,
                          framerate=10.0)
    sprop = base64.b64encode(SPS).decode() + "," + base64.b64encode(PPS).decode()
    assert text == (
        "v=0\r\n"
        "o=- 123 1 IN IP4 127.0.0.1\r\n"
        "s=cam-0007\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "t=0 0\r\n"
        "a=tool:rtcc\r\n"
        "a=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        f"a=fmtp:96 packetization-mode=1;profile-level-id=42c016;sprop-parameter-sets={sprop}\r\n"
        "a=framerate:10\r\n"
        "a=control:trackID=0\r\n"
    )


def test_built_sdp_parses_back(stream_640) -> None:
    enc, _ = stream_640
    text = build_rtsp_sdp(session_name="cam 1", sps=enc.sps, pps=enc.pps, payload_type=97,
                          control="track1", framerate=12.5)
    sd = parse_sdp(text)
    assert (sd.version, sd.session_name, sd.control, sd.connection) == (0, "cam 1", "*", "0.0.0.0")
    assert sd.origin.endswith(" 1 IN IP4 127.0.0.1")
    [media] = sd.media
    assert (media.kind, media.port, media.proto, media.payload_types) == (
        "video", 0, "RTP/AVP", (97,))
    assert media.payload_type_for("h264") == 97
    assert (media.rtpmap[97].encoding, media.rtpmap[97].clock_rate) == ("H264", 90000)
    assert media.fmtp[97]["packetization-mode"] == "1"
    assert media.fmtp[97]["profile-level-id"] == enc.sps[1:4].hex()
    assert sprop_parameter_sets(media.fmtp[97]) == (enc.sps, enc.pps)
    assert media.control == "track1"
    assert ("framerate", "12.5") in media.attributes
    assert parse_sps(sprop_parameter_sets(media.fmtp[97])[0]).width == 640


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"session_name": "a\r\na=evil"}, "session_name"),
        ({"session_name": ""}, "session_name"),
        ({"control": "x\ny"}, "control"),
        ({"payload_type": 95}, "96..127"),
        ({"sps": PPS}, "sps is not an SPS"),
        ({"pps": SPS}, "pps is not a PPS"),
        ({"pps": b""}, "pps is not a PPS"),
        ({"framerate": 0.0}, "framerate"),
    ],
)
def test_build_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"session_name": "s", "sps": SPS, "pps": PPS, **kwargs}
    with pytest.raises(MediaError, match=message):
        build_rtsp_sdp(**args)


# --- descriptions from other software, written out by hand ----------------------------------

# As written by `ffmpeg ... -f rtp -sdp_file` (LF line endings).
FFMPEG_RTP = (
    "v=0\n"
    "o=- 0 0 IN IP4 127.0.0.1\n"
    "s=No Name\n"
    "c=IN IP4 127.0.0.1\n"
    "t=0 0\n"
    "a=tool:libavformat 59.27.100\n"
    "m=video 5004 RTP/AVP 96\n"
    "a=rtpmap:96 H264/90000\n"
    "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QAHqzZQKA9sBEAAAMAAQAAAwAyDxYtlg==,"
    "aOvjyyLA; profile-level-id=64001E\n"
)

GSTREAMER = (
    "v=0\r\n"
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=range:npt=now-\r\n"
    "a=control:rtsp://127.0.0.1:8554/test\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:2000\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=framerate:30\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtkAoD2wEQAAAwABAAADADIPFi5I,"
    "aMuMsg==;profile-level-id=42c01e;level-asymmetry-allowed=1\r\n"
    "a=control:rtsp://127.0.0.1:8554/test/stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
)

HIKVISION = (
    "v=0\r\n"
    "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\r\n"
    "s=Media Presentation\r\n"
    "e=NONE\r\n"
    "b=AS:5050\r\n"
    "t=0 0\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:5000\r\n"
    "a=recvonly\r\n"
    "a=x-dimensions:1920,1080\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
    "sprop-parameter-sets=Z00AKpY1QPAET8s3AQEBAg==,aO48gA==\r\n"
    "m=audio 0 RTP/AVP 8\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=recvonly\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r\n"
    "a=rtpmap:8 PCMA/8000/1\r\n"
    "m=application 0 RTP/AVP 107\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50\r\n"
    "a=recvonly\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=3?transportmode=unicast\r\n"
    "a=rtpmap:107 isapi.metadata/90000\r\n"
    "a=Media_header:MEDIAINFO=494D4B48010100000400010000000000000000000000000000000000;\r\n"
    "a=appversion:1.0\r\n"
)

AXIS = (
    "v=0\r\n"
    "o=- 1234 1 IN IP4 192.168.0.90\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "e=NONE\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=range:npt=now-\r\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50000\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=4d0029;"
    "sprop-parameter-sets=Z00AKeKQDwBE/LgLcBAQGkHiRFQ=,aO48gA==\r\n"
    "a=control:rtsp://192.168.0.90/axis-media/media.amp/stream=0?videocodec=h264\r\n"
    "a=framerate:30.000000\r\n"
    "a=transform:1.000000,0.000000,0.000000;0.000000,1.000000,0.000000;"
    "0.000000,0.000000,1.000000\r\n"
)

MEDIAMTX = (
    "v=0\r\n"
    "o=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=Stream\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "a=control:trackID=0\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z2QAKKwrQDwBE/LAPEiagA==,aO48sA==; "
    "profile-level-id=640028\r\n"
)


@pytest.mark.parametrize(
    ("text", "session_name", "control", "video_control", "profile", "sps_head"),
    [
        (FFMPEG_RTP, "No Name", None, None, "64001E", "6764001e"),
        (GSTREAMER, "Session streamed with GStreamer", "rtsp://127.0.0.1:8554/test",
         "rtsp://127.0.0.1:8554/test/stream=0", "42c01e", "6742c01e"),
        (HIKVISION, "Media Presentation",
         "rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast",
         "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
         "420029", "674d002a"),
        (AXIS, "Session streamed with GStreamer",
         "rtsp://192.168.0.90/axis-media/media.amp?videocodec=h264",
         "rtsp://192.168.0.90/axis-media/media.amp/stream=0?videocodec=h264", "4d0029",
         "674d0029"),
        (MEDIAMTX, "Stream", None, "trackID=0", "640028", "67640028"),
    ],
)
def test_parse_third_party_sdp(text: str, session_name: str, control: str | None,
                               video_control: str | None, profile: str, sps_head: str) -> None:
    sd = parse_sdp(text)
    assert sd.session_name == session_name
    assert sd.control == control
    video = sd.media[0]
    assert video.kind == "video" and video.payload_types == (96,)
    assert video.control == video_control
    pt = video.payload_type_for("H264")
    assert pt == 96
    fmtp = video.fmtp[pt]
    assert fmtp["packetization-mode"] == "1"
    assert fmtp["profile-level-id"] == profile
    sps, pps = sprop_parameter_sets(fmtp)
    assert sps[:4].hex() == sps_head
    assert pps[0] & 0x1F == 8


def test_hikvision_details() -> None:
    sd = parse_sdp(HIKVISION)
    video, audio, meta = sd.media
    assert video.direction == "recvonly" and video.connection == "0.0.0.0"
    assert ("x-dimensions", "1920,1080") in video.attributes
    assert audio.rtpmap[8].encoding == "PCMA" and audio.rtpmap[8].channels == 1
    assert audio.payload_type_for("H264") is None
    assert meta.kind == "application" and meta.rtpmap[107].encoding == "isapi.metadata"
    assert resolve_control("rtsp://192.168.1.64:554/Streaming/Channels/101/", video.control) == (
        video.control)


def test_gstreamer_details() -> None:
    sd = parse_sdp(GSTREAMER)
    assert ("range", "npt=now-") in sd.attributes
    assert ("mediaclk", "sender") in sd.media[0].attributes
    assert sd.media[0].fmtp[96]["level-asymmetry-allowed"] == "1"


def test_live_is_what_the_server_says_with_now() -> None:
    # gst-rtsp-server (and Axis cameras, built on it) say it at session level; RFC 2326 C.1.5
    # allows it on a medium too.
    assert parse_sdp(GSTREAMER).live and parse_sdp(AXIS).live
    assert parse_sdp("v=0\ns=x\nm=video 0 RTP/AVP 96\na=range: NPT=now-\n").live
    # A recorded range, or no range at all: the hub keeps asking such servers for npt=0.000-.
    assert not parse_sdp("v=0\ns=x\na=range:npt=0-7.741\nm=video 0 RTP/AVP 96\n").live
    for text in (FFMPEG_RTP, HIKVISION, MEDIAMTX):
        assert not parse_sdp(text).live


def test_session_direction_applies_to_media() -> None:
    sd = parse_sdp("v=0\ns=x\na=sendonly\nm=video 0 RTP/AVP 96\nm=audio 0 RTP/AVP 0\na=inactive\n")
    assert sd.direction == "sendonly"
    assert [m.direction for m in sd.media] == ["sendonly", "inactive"]


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://h:554/cams/a", "trackID=0", "rtsp://h:554/cams/a/trackID=0"),
        ("rtsp://h:554/cams/a/", "trackID=0", "rtsp://h:554/cams/a/trackID=0"),
        ("rtsp://h/cams/a", "rtsp://other/x", "rtsp://other/x"),
        ("rtsp://h/cams/a", "*", "rtsp://h/cams/a"),
        ("rtsp://h/cams/a", None, "rtsp://h/cams/a"),
    ],
)
def test_resolve_control(base: str, control: str | None, expected: str) -> None:
    assert resolve_control(base, control) == expected


# --- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "SDP is empty"),
        ("\r\n\r\n", "SDP is empty"),
        ("hello", "SDP line 1: expected '<letter>=<value>'"),
        ("s=a\r\nv=0\r\n", "SDP line 1: SDP must start with v=0"),
        ("v=1\r\n", "SDP line 1: unsupported SDP version"),
        ("v=0\r\ns=x\r\nm=video abc RTP/AVP 96\r\n", "SDP line 3: bad port 'abc'"),
        ("v=0\r\nm=video 70000 RTP/AVP 96\r\n", "SDP line 2: bad port '70000'"),
        ("v=0\r\nm=video 0 RTP/AVP h264\r\n", "SDP line 2: bad RTP payload type 'h264'"),
        ("v=0\r\nm=video 0\r\n", "SDP line 2: expected m=<media>"),
        ("v=0\r\n\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264\r\n", "SDP line 4: expected rtpmap"),
        ("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/fast\r\n", "SDP line 3: rtpmap clock"),
        ("v=0\r\na=rtpmap:96 H264/90000\r\n", "SDP line 2: rtpmap outside a media section"),
        ("v=0\r\na=fmtp:96 a=b\r\n", "SDP line 2: fmtp outside a media section"),
        ("v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:x a=b\r\n", "SDP line 3: expected fmtp"),
        ("v=0\r\nc=IN IP4\r\n", "SDP line 2: expected c=IN"),
        ("v=0\r\nm=video 0 RTP/AVP 96\r\na=control:\r\n", "SDP line 3: empty control"),
        ("v=0\r\n=x\r\n", "SDP line 2: expected '<letter>=<value>'"),
    ],
)
def test_malformed_sdp_names_the_line(text: str, message: str) -> None:
    with pytest.raises(MediaError, match=re.escape(message)):
        parse_sdp(text)


@pytest.mark.parametrize(
    ("fmtp", "message"),
    [
        ({}, "no sprop-parameter-sets"),
        ({"sprop-parameter-sets": "Z0LAHtkA,!!!"}, "item 1 is not base64"),
        ({"sprop-parameter-sets": "Z0LAHtkA"}, "has no PPS"),
        ({"sprop-parameter-sets": "aMuMsg=="}, "has no SPS"),
    ],
)
def test_bad_sprop(fmtp: dict, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        sprop_parameter_sets(fmtp)


def test_sprop_in_any_order_and_without_padding() -> None:
    fmtp = {"sprop-parameter-sets": "aMuMsg,Z0LAHtkAoD2wEQAAAwABAAADADIPFi5I"}
    sps, pps = sprop_parameter_sets(fmtp)
    assert (sps[0], pps) == (0x67, bytes.fromhex("68cb8cb2"))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_random_text_raises_only_media_error(text: str) -> None:
    with contextlib.suppress(MediaError):
        parse_sdp(text)


@given(st.lists(st.sampled_from([
    "v=0", "s=x", "m=video 0 RTP/AVP 96", "m=audio 9 RTP/AVP 0 8", "a=rtpmap:96 H264/90000",
    "a=fmtp:96 packetization-mode=1", "a=control:trackID=1", "c=IN IP4 0.0.0.0", "a=recvonly",
    "b=AS:10", "a=rtpmap:x", "a=fmtp:", "m=", "c=IN", "a=control:", "zz", "", "a=flag",
]), max_size=12))
def test_random_line_soup_raises_only_media_error(lines: list[str]) -> None:
    with contextlib.suppress(MediaError):
        parse_sdp("\r\n".join(["v=0", *lines]))
