"""Every Redis key and pub/sub channel rtcc uses, in one place. Nobody else spells a key.

CONTRACT: every key starts with ``rtcc:``. Per-camera keys carry the camera id in a hash tag
(``rtcc:{cam-0007}:video``) so that Redis Cluster keeps one camera's keys on one shard and a
pipeline of one camera's writes never crosses shards.

The small state-plane keys (registry, requests, evidence, users, audit) share the hash tag
``{state}`` and the frame-metadata stream shares ``{meta}`` with the exposure aggregates its
consumer group feeds, so each group lives in one slot and the multi-key Lua batches
(:mod:`rtcc.registry.txn`, the analyzer's commit) stay atomic on a Redis Cluster. Keys written by
older versions without these tags are renamed once on connect (:mod:`rtcc.keys_migration`,
driven by :data:`LEGACY_PREFIXES`). Pub/sub channel names are not keys (a cluster broadcasts
every message to all nodes) and keep their original spelling.
"""

from __future__ import annotations

PREFIX = "rtcc:"
STATE_PREFIX = f"{PREFIX}{{state}}:"
"""Prefix of every state-plane key: one hash slot on a cluster."""
META_PREFIX = f"{PREFIX}{{meta}}:"
"""Prefix of the frame-metadata stream and the exposure aggregates: one hash slot."""


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

REGISTRY_PREFIX = f"{STATE_PREFIX}registry:"


def household(household_id: str) -> str:
    return f"{REGISTRY_PREFIX}household:{household_id}"


def camera(camera_id: str) -> str:
    return f"{REGISTRY_PREFIX}camera:{camera_id}"


HOUSEHOLDS = f"{REGISTRY_PREFIX}households"
CAMERAS = f"{REGISTRY_PREFIX}cameras"
CONSENT_HISTORY = f"{REGISTRY_PREFIX}history"
CONSENT_EVENTS = f"{PREFIX}registry:events"
"""Pub/sub channel: one message per consent change, for caches to invalidate at once."""
CONSENT_VERSION = f"{REGISTRY_PREFIX}version"
"""Counter bumped on every consent change; lets a cache detect a missed event."""

# --- audit ------------------------------------------------------------------------------------

AUDIT_PREFIX = f"{STATE_PREFIX}audit:"
AUDIT_LOG = f"{AUDIT_PREFIX}log"
AUDIT_HEAD = f"{AUDIT_PREFIX}head"

# --- frame metadata for the analyzer -------------------------------------------------------------

FRAME_META = f"{META_PREFIX}frames"
"""Stream of delivered frames' metadata (no video bytes), read by the analyzer's consumer group."""
FRAME_META_GROUP = "exposure"


# --- registry: more -----------------------------------------------------------------------------


def household_cameras(household_id: str) -> str:
    """Set of the camera ids of one household."""
    return f"{REGISTRY_PREFIX}household:{household_id}:cameras"


CONSENT_BOUNDARIES = f"{REGISTRY_PREFIX}boundaries"
"""Sorted set: camera id scored by the unix time its consent next changes by itself (expiry,
schedule edge); the registry service publishes an event when each falls due."""

# --- footage requests and evidence -------------------------------------------------------------

REQUESTS_PREFIX = f"{STATE_PREFIX}requests:"
REQUESTS_SEQ = f"{REQUESTS_PREFIX}seq"
REQUESTS_ALL = f"{REQUESTS_PREFIX}all"
"""Sorted set of request ids by creation time."""
REQUESTS_OPEN = f"{REQUESTS_PREFIX}open"
"""Sorted set of open request ids by the time they expire unanswered."""
REQUEST_EVENTS = f"{PREFIX}requests:events"
"""Pub/sub channel: request created, decided, answered, expired."""
ASK_EVENTS = f"{PREFIX}asks:events"
"""Pub/sub channel of the camera owners' side of requests: which households were asked, which
answered, whose asks expired (never read by a police-facing component)."""


def request(request_id: str) -> str:
    return f"{REQUESTS_PREFIX}request:{request_id}"


def request_asks(request_id: str) -> str:
    """Hash camera id -> ask state (pending, approved, declined, expired)."""
    return f"{REQUESTS_PREFIX}request:{request_id}:asks"


def household_asks(household_id: str) -> str:
    """Set of ``request_id|camera_id`` asks waiting for this household's answer."""
    return f"{REQUESTS_PREFIX}household:{household_id}:pending"


EVIDENCE_PREFIX = f"{STATE_PREFIX}evidence:"
EVIDENCE_ALL = f"{EVIDENCE_PREFIX}all"
"""Sorted set of evidence ids by the unix time they are purged."""


def evidence(evidence_id: str) -> str:
    return f"{EVIDENCE_PREFIX}item:{evidence_id}"


# --- users and tokens ---------------------------------------------------------------------------

USERS_PREFIX = f"{STATE_PREFIX}users:"
USERS = f"{USERS_PREFIX}names"


def user(name: str) -> str:
    return f"{USERS_PREFIX}user:{name}"


def user_tokens(name: str) -> str:
    """Set of the token digests issued to one user (so revoking a user revokes them all)."""
    return f"{USERS_PREFIX}user:{name}:tokens"


def token(digest: str) -> str:
    """Hash of one token, keyed by the sha256 hex digest of the token (never the token)."""
    return f"{USERS_PREFIX}token:{digest}"


def login_failures_user(name: str) -> str:
    """Sorted set of an account's failed password checks (from every address), by time."""
    return f"{USERS_PREFIX}failures:user:{name}"


def login_failures_ip(ip: str) -> str:
    """Sorted set of the password checks one client address reserved (every account), by time."""
    return f"{USERS_PREFIX}failures:ip:{ip}"


def login_attempts(name: str, ip: str) -> str:
    """Sorted set of the password checks reserved for one account from one address, by time."""
    return f"{USERS_PREFIX}attempts:{name}|{ip}"


USER_EVENTS = f"{PREFIX}users:events"
"""Pub/sub channel: a user revoked or a token logged out (rtcc.registry.token_events), published
in the same Lua batch as the change, so every wall process can close what that user watches."""

# --- live exposure aggregates (written by the analyzer, read by the wall and reports) -----------

EXPOSURE_PREFIX = f"{META_PREFIX}exposure:"
EXPOSURE_STREAMS = f"{EXPOSURE_PREFIX}streams"
"""Hash ``CAM|ROLE|BAND|n`` (or ``|c`` for consenting) -> person-microseconds seen (integer)."""
EXPOSURE_HOUSEHOLDS = f"{EXPOSURE_PREFIX}households"
"""Hash ``HOUSEHOLD|ROLE|BAND|n`` (or ``|c``) -> person-microseconds its people were seen."""
EXPOSURE_TILES = f"{EXPOSURE_PREFIX}tiles"
"""Hash of the wall's tile counters: ``CAM:now`` non-consenting people in the newest frame,
``CAM:us`` non-consenting person-microseconds so far, ``CAM:t`` capture time (unix µs) of the
newest frame, ``CAM:frames`` frames counted."""
EXPOSURE_LAST = f"{EXPOSURE_PREFIX}last"
"""Hash camera id -> capture time (unix µs) of the last frame counted (frame durations)."""
EXPOSURE_TOTALS = f"{EXPOSURE_PREFIX}totals"
"""Hash of analyzer-wide counters: ``frames``, ``malformed``, ``masked_us``."""

# --- the untagged forms of older versions (renamed once by rtcc.keys_migration) -----------------

LEGACY_PREFIXES: tuple[tuple[str, str], ...] = (
    (f"{PREFIX}registry:", REGISTRY_PREFIX),
    (f"{PREFIX}requests:", REQUESTS_PREFIX),
    (f"{PREFIX}evidence:", EVIDENCE_PREFIX),
    (f"{PREFIX}users:", USERS_PREFIX),
    (f"{PREFIX}audit:", AUDIT_PREFIX),
    (f"{PREFIX}exposure:", EXPOSURE_PREFIX),
    (f"{PREFIX}meta:frames", FRAME_META),
)
"""(old prefix, new prefix): a key starting with the old prefix moves to the new one."""

# --- sharded ingest: camera leases and hub membership (issue #9, part B) -------------------------


def camera_owner(camera_id: str) -> str:
    """The camera's lease: the id of the hub worker that ingests it (string, ``PX`` TTL)."""
    return _cam(camera_id, "owner")


HUB_WORKERS = f"{PREFIX}workers:hub"
"""Sorted set of live hub worker ids, scored by the unix time (ms) their membership goes stale."""


def hub_worker(worker_id: str) -> str:
    """Hash of what one hub worker reports (camera count, lease ages, heartbeat, start time)."""
    if not worker_id or any(c in worker_id for c in "{} "):
        raise ValueError(f"invalid worker id {worker_id!r}")
    return f"{HUB_WORKERS}:{worker_id}"
