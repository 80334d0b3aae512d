import io
import logging

from rtcc.logs import redact_credentials, redact_url, setup_logging


def test_redact_url_keeps_user_and_host():
    assert redact_url("rtsp://admin:pw@127.0.0.1:554/x?y=1") == "rtsp://admin:***@127.0.0.1:554/x?y=1"
    assert redact_url("rtsp://127.0.0.1/x") == "rtsp://127.0.0.1/x"


def test_redact_credentials_in_free_text():
    text = "connect rtsp://admin:s3cret@10.0.0.1/cam failed; retry redis://:pw@h:1/0"
    out = redact_credentials(text)
    assert "s3cret" not in out and ":pw@" not in out
    assert "rtsp://admin:***@10.0.0.1/cam" in out
    assert "redis://:***@h:1/0" in out


def test_log_lines_are_redacted():
    stream = io.StringIO()
    setup_logging("info", stream=stream)
    logging.getLogger("rtcc.test").info("opening %s", "rtsp://u:topsecret@127.0.0.1/cams/c1")
    assert "topsecret" not in stream.getvalue()
    assert "rtsp://u:***@127.0.0.1/cams/c1" in stream.getvalue()
    setup_logging("warning", stream=io.StringIO())
