"""Every Redis key and pub/sub channel rtcc uses, in one place. Nobody else spells a key.

CONTRACT: every key starts with ``rtcc:``. Per-camera keys carry the camera id in a hash tag
(``rtcc:{cam-0007}:video``) so that Redis Cluster keeps one camera's keys on one shard and a
pipeline of one camera's writes never crosses shards.
"""

from __future__ import annotations

PREFIX = "rtcc:"


def _cam(camera_id: str, what: str) -> str:
    if not camera_id or any(c in camera_id for c in "{}"):
        raise ValueError(f"invalid camera id {camera_id!r}")
    return f"{PREFIX}{{{camera_id}}}:{what}"


# --- channels (per camera, written by the hub, read by the wall and the analyzer) --------------


def video(camera_id: str) -> str:
    """Stream of access units with their metadata, trimmed to the live window."""
    return _cam(camera_id, "video")


def gop(camera_id: str) -> str:
    """The stream entry id of the newest keyframe, for fast start (string)."""
    return _cam(camera_id, "gop")


def camera_state(camera_id: str) -> str:
    """Hash of the hub worker's state for this camera."""
    return _cam(camera_id, "state")


CAMERA_EVENTS = f"{PREFIX}cameras:events"
"""Stream of camera state changes (connecting, live, backing_off, gated, failed)."""

LIVE_CAMERAS = f"{PREFIX}cameras:live"
"""Set of camera ids that currently have a live, consent-gated channel."""

# --- registry -------------------------------------------------------------------------------

REGISTRY_PREFIX = f"{PREFIX}registry:"


def household(household_id: str) -> str:
    return f"{REGISTRY_PREFIX}household:{household_id}"


def camera(camera_id: str) -> str:
    return f"{REGISTRY_PREFIX}camera:{camera_id}"


HOUSEHOLDS = f"{REGISTRY_PREFIX}households"
CAMERAS = f"{REGISTRY_PREFIX}cameras"
CONSENT_HISTORY = f"{REGISTRY_PREFIX}history"
CONSENT_EVENTS = f"{REGISTRY_PREFIX}events"
"""Pub/sub channel: one message per consent change, for caches to invalidate at once."""
CONSENT_VERSION = f"{REGISTRY_PREFIX}version"
"""Counter bumped on every consent change; lets a cache detect a missed event."""

# --- audit ------------------------------------------------------------------------------------

AUDIT_LOG = f"{PREFIX}audit:log"
AUDIT_HEAD = f"{PREFIX}audit:head"

# --- frame metadata for the analyzer -------------------------------------------------------------

FRAME_META = f"{PREFIX}meta:frames"
"""Stream of delivered frames' metadata (no video bytes), read by the analyzer's consumer group."""
FRAME_META_GROUP = "exposure"
