"""GStreamer's RTSP client (rtspsrc) capturing H.264 to a file, stopped the way an application
stops it: PAUSE, wait for the answer, TEARDOWN, wait for the answer. Run with the SYSTEM python
(python3-gi): /usr/bin/python3 gst_rtsp_pull.py URL PROTOCOLS OUT FRAMES [USER PASSWORD]

OUT gets the first FRAMES + 1 access units (Annex B). Exit 0 when every step was answered; 1 with
the reason on stderr otherwise.

Why not gst-launch-1.0: at the end of the capture it sets the pipeline straight to NULL, so
rtspsrc queues PAUSE (PLAYING to PAUSED) and at once CLOSE (PAUSED to READY), and CLOSE cancels the
connection under the PAUSE in progress (gstrtspsrc.c, gst_rtspsrc_loop_send_cmd with CMD_ALL).
When the cancel lands before PAUSE is written, GStreamer (1.22 and still upstream) reports the
cancelled write as "Received end-of-file" (gstrtspconnection.c, writev_bytes: nothing written is
EEOF, where a cancel should be EINTR) and posts an ERROR, so gst-launch exits 1 with a complete
capture and a server that never saw the PAUSE. The window is a few microseconds of rtspsrc's own
thread, so it opens when the machine is busy. Waiting for each answer takes the race away, and the
server's PAUSE with media in flight is exercised on every run.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

STEP = 10 * Gst.SECOND
"""Longest wait for the capture and for each answer (the caller kills us at its own limit)."""


def fail(message: str) -> None:
    print(f"gst_rtsp_pull: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def error_text(msg: Gst.Message) -> str:
    err, debug = msg.parse_error()
    return f"{msg.src.get_name()}: {err.message} ({debug})"


def wait_progress(bus: Gst.Bus, done: str, what: str) -> None:
    """Until rtspsrc reports ``done`` (a COMPLETE progress text); an error or a cancel fails."""
    while True:
        msg = bus.timed_pop_filtered(STEP, Gst.MessageType.PROGRESS | Gst.MessageType.ERROR)
        if msg is None:
            fail(f"{what}: no answer within {STEP // Gst.SECOND} s")
        if msg.type == Gst.MessageType.ERROR:
            fail(f"{what}: {error_text(msg)}")
        kind, _code, text = msg.parse_progress()
        if kind == Gst.ProgressType.COMPLETE and text == done:
            return
        if kind in (Gst.ProgressType.CANCELED, Gst.ProgressType.ERROR):
            fail(f"{what}: {text}")


def main() -> None:
    if len(sys.argv) not in (5, 7):
        fail("usage: gst_rtsp_pull.py URL PROTOCOLS OUT FRAMES [USER PASSWORD]")
    url, protocols, out, frames = sys.argv[1:5]
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"rtspsrc name=src latency=0 ! rtph264depay ! h264parse "
        "! video/x-h264,stream-format=byte-stream,alignment=au "
        f"! identity eos-after={int(frames) + 1} ! filesink name=out")
    src = pipeline.get_by_name("src")
    src.set_property("location", url)
    src.set_property("protocols", protocols)
    if len(sys.argv) == 7:
        src.set_property("user-id", sys.argv[5])
        src.set_property("user-pw", sys.argv[6])
    pipeline.get_by_name("out").set_property("location", out)
    bus = pipeline.get_bus()
    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            fail("the pipeline refused to play")
        msg = bus.timed_pop_filtered(STEP, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None:
            fail(f"capture: fewer than {frames} frames within {STEP // Gst.SECOND} s")
        if msg.type == Gst.MessageType.ERROR:
            fail(f"capture: {error_text(msg)}")
        pipeline.set_state(Gst.State.PAUSED)
        wait_progress(bus, "Sent PAUSE request", "PAUSE")
        pipeline.set_state(Gst.State.READY)
        wait_progress(bus, "Closed Stream", "TEARDOWN")
    finally:
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
