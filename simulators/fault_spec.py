"""The ``--faults`` mini-language: which camera misbehaves how, when and for how long. Pure.

The grammar is :data:`GRAMMAR` below (also shown by ``rtcc sim --help``). Scenario files carry the
same items in a ``[faults]`` table: ``items = ["stall:...", ...]`` or ``spec = "stall:..., ..."``.
Errors name the item (number and text) and what is wrong with it.
"""

from __future__ import annotations

import fnmatch
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtcc.errors import ConfigError
from rtcc.vocabulary import TIERS

GRAMMAR = """\
SPEC     := ITEM ("," ITEM)*
ITEM     := KIND ":" TARGET ["@" WHEN] ["+" DURATION] ["=" VALUE]
TARGET   := a camera id, or a shell pattern over ids (cam-00*, cam-000[1-3], *)
WHEN     := TIME            once, TIME after the simulator starts (default 0s)
          | rand(TIME)      once per matching camera, at a uniform random time in [0, TIME)
          | every(TIME)     repeatedly, every TIME (first at TIME)
TIME     := NUMBER[ms|s|m|h] (a bare number is seconds): 500ms, 30s, 1.5m, 2h

KIND        DURATION   VALUE
stall       required   -            frames stop, connections stay open
disconnect  -          -            every client connection of the camera is closed
reboot      required   -            camera gone (404, clients cut off), then back
spike       optional   FACTOR       bitrate multiplied with filler data (default 4x)
loss        optional   PERCENT      share of RTP packets dropped on UDP (e.g. 5%)
corrupt     optional   PERCENT      share of frames with damaged slice data (default 10%)
skew        optional   SIGNED TIME  capture clock offset (+2s, -500ms)
consent     -          TIER|toggle  the owner opts in or out: live, none, registry, request,
                                    or toggle (live <-> none)

A fault without a duration lasts until the simulator stops. Scenario files: a [faults] table
with items = ["stall:cam-0001@30s+5s", ...] or spec = "...". Example:

  stall:cam-0001@30s+5s,reboot:*@rand(600s)+20s,loss:cam-0002=5%,consent:cam-0003@1m=toggle
"""

KINDS = ("stall", "disconnect", "reboot", "spike", "loss", "corrupt", "skew", "consent")
CONSENT_VALUES = (*sorted(TIERS), "toggle")

_DURATION_RULE = {  # kind -> "required" | "optional" | "forbidden"
    "stall": "required", "reboot": "required", "disconnect": "forbidden",
    "consent": "forbidden", "spike": "optional", "loss": "optional", "corrupt": "optional",
    "skew": "optional",
}
_TIME = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_WHEN_FN = re.compile(r"^(rand|every)\((.*)\)$")
_TARGET = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


class FaultSpecError(ConfigError):
    """A faults item that cannot be used; the message names the item and the problem."""


@dataclass(frozen=True, slots=True)
class When:
    mode: str
    """``at`` (once), ``rand`` (once, uniform in [0, seconds)) or ``every`` (periodic)."""
    seconds: float


@dataclass(frozen=True, slots=True)
class FaultSpec:
    index: int
    """1-based position in its source; seeds the random times so each item draws its own."""
    text: str
    kind: str
    target: str
    when: When
    duration: float | None
    value: float | str | None
    """loss/corrupt: fraction 0..1; spike: factor; skew: seconds; consent: tier or toggle."""

    def matches(self, camera_id: str) -> bool:
        return self.target == camera_id or fnmatch.fnmatchcase(camera_id, self.target)


def parse_time(text: str, what: str = "time") -> float:
    """``500ms``, ``30s``, ``1.5m``, ``2h`` or bare seconds -> seconds (ValueError if not)."""
    m = _TIME.match(text.strip())
    if m is None:
        raise ValueError(f"{what} {text!r} is not a time like 500ms, 30s, 1.5m or 2h")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"{what} {text!r} is not finite")
    return seconds


def _when(text: str) -> When:
    fn = _WHEN_FN.match(text)
    if fn is not None:
        seconds = parse_time(fn.group(2), f"{fn.group(1)}()")
        if seconds <= 0:
            raise ValueError(f"{fn.group(1)}({fn.group(2)}) needs a time above zero")
        return When(fn.group(1), seconds)
    if "(" in text:
        raise ValueError(f"unknown time function {text!r} (use rand(T) or every(T))")
    return When("at", parse_time(text, "start time"))


def _value(kind: str, text: str | None) -> float | str | None:
    if kind in ("stall", "reboot", "disconnect"):
        if text is not None:
            raise ValueError(f"{kind} takes no =value")
        return None
    if kind == "spike":
        raw = (text or "4x").lower().removesuffix("x")
        try:
            factor = float(raw)
        except ValueError:
            raise ValueError(f"spike factor {text!r} is not a number like 4x") from None
        if not 1.0 < factor <= 100.0:
            raise ValueError(f"spike factor {text!r} must be above 1x and at most 100x")
        return factor
    if kind in ("loss", "corrupt"):
        if text is None:
            if kind == "loss":
                raise ValueError("loss needs a percentage, e.g. loss:cam-0002=5%")
            return 0.10
        raw = text.removesuffix("%")
        try:
            pct = float(raw)
        except ValueError:
            raise ValueError(f"{kind} {text!r} is not a percentage like 5%") from None
        if not 0.0 < pct <= 100.0:
            raise ValueError(f"{kind} {text!r} must be above 0% and at most 100%")
        return pct / 100.0
    if kind == "skew":
        if not text or text[0] not in "+-":
            raise ValueError("skew needs a signed offset, e.g. skew:cam-0001=+2s or =-500ms")
        offset = parse_time(text[1:], "skew")
        return -offset if text[0] == "-" else offset
    # consent
    if text is None or text.lower() not in CONSENT_VALUES:
        raise ValueError(f"consent needs =TIER, one of {', '.join(CONSENT_VALUES)}; got "
                         f"{text!r}")
    return text.lower()


def parse_item(text: str, index: int) -> FaultSpec:
    """One item; ValueError with the bare problem (callers add where it came from)."""
    left, eq, value_text = text.partition("=")
    kind, colon, rest = left.partition(":")
    kind = kind.strip().lower()
    if not colon:
        raise ValueError("expected KIND:TARGET, e.g. stall:cam-0001@30s+5s")
    if kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r} (known: {', '.join(KINDS)})")
    m = re.match(r"^([^@+]*)(?:@([^+]*))?(?:\+(.*))?$", rest.strip())
    if m is None:  # pragma: no cover - the pattern accepts every string
        raise ValueError("cannot parse")
    target, when_text, duration_text = m.group(1).strip(), m.group(2), m.group(3)
    if not target:
        raise ValueError("missing camera id or pattern after ':'")
    if not _TARGET.match(target):
        raise ValueError(f"camera pattern {target!r} has characters outside "
                         "letters, digits, _ . - and the wildcards * ? [ ] !")
    when = _when(when_text.strip()) if when_text is not None else When("at", 0.0)
    rule = _DURATION_RULE[kind]
    duration: float | None = None
    if duration_text is not None:
        if rule == "forbidden":
            raise ValueError(f"{kind} is instantaneous and takes no +duration")
        duration = parse_time(duration_text.strip(), "duration")
        if duration <= 0:
            raise ValueError(f"duration {duration_text!r} must be above zero")
    elif rule == "required":
        raise ValueError(f"{kind} needs a duration, e.g. {kind}:{target}@30s+5s")
    if when.mode == "every" and duration is not None and duration >= when.seconds:
        raise ValueError(f"duration {duration_text} is not shorter than the period "
                         f"{when_text}")
    value = _value(kind, value_text.strip() if eq else None)
    return FaultSpec(index, text, kind, target, when, duration, value)


def parse_faults(spec: str, *, source: str = "--faults", first_index: int = 1) -> list[FaultSpec]:
    """Every item of a comma-separated spec; FaultSpecError names the offending item."""
    out: list[FaultSpec] = []
    if not spec.strip():
        return out
    for offset, raw in enumerate(spec.split(",")):
        index = first_index + offset
        item = raw.strip()
        if not item:
            raise FaultSpecError(f"{source}: item {index} is empty (stray comma?)")
        try:
            out.append(parse_item(item, index))
        except ValueError as err:
            raise FaultSpecError(f"{source}: item {index} {item!r}: {err}") from None
    return out


def parse_fault_table(table: Mapping[str, Any], source: str) -> list[FaultSpec]:
    """The items of a scenario's ``[faults]`` table (``items`` list and/or ``spec`` string)."""
    unknown = sorted(set(table) - {"items", "spec"})
    if unknown:
        raise FaultSpecError(f"{source} [faults] {unknown[0]}: unknown key (use items or spec)")
    specs: list[FaultSpec] = []
    spec_text = table.get("spec")
    if spec_text is not None:
        if not isinstance(spec_text, str):
            raise FaultSpecError(f"{source} [faults] spec: expected a string")
        specs += parse_faults(spec_text, source=f"{source} [faults] spec")
    items = table.get("items", [])
    if not isinstance(items, list):
        raise FaultSpecError(f"{source} [faults] items: expected a list of strings")
    for i, item in enumerate(items):
        where = f"{source} [faults] items[{i}]"
        if not isinstance(item, str):
            raise FaultSpecError(f"{where}: expected a string, got {type(item).__name__}")
        if not item.strip():
            raise FaultSpecError(f"{where}: empty")
        if "," in item:
            raise FaultSpecError(f"{where}: holds a comma; one fault per item")
        try:
            specs.append(parse_item(item.strip(), len(specs) + 1))
        except ValueError as err:
            raise FaultSpecError(f"{where} {item.strip()!r}: {err}") from None
    return specs


def load_scenario_faults(path: Path) -> list[FaultSpec]:
    """The ``[faults]`` table of a scenario TOML file (none when the table is absent)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise FaultSpecError(f"{path}: cannot read ({err.strerror})") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise FaultSpecError(f"{path}: not valid TOML ({err})") from err
    table = doc.get("faults")
    if table is None:
        return []
    if not isinstance(table, dict):
        raise FaultSpecError(f"{path}: faults: expected a table [faults]")
    return parse_fault_table(table, str(path))
