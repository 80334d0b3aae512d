"""The live progress display of a load test: a rich panel on a terminal, plain lines otherwise.

On a TTY (and with ``rich`` importable) :class:`Progress` shows a progress bar of the planned
phases and a one-line table of the newest measurement, refreshed in place. When stdout is not a
terminal (tests, CI, ``| tee``) it prints one plain, timestamped line per event instead, so logs
stay readable and nothing depends on cursor movement.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any


class Progress:
    """``with Progress(total) as p: p.phase("step 50"); p.update(fps=9.9); p.advance()``."""

    def __init__(self, total: int, title: str = "load test", *, plain: bool | None = None
                 ) -> None:
        self.total = max(1, total)
        self.title = title
        self.plain = (not sys.stdout.isatty()) if plain is None else plain
        self._t0 = time.monotonic()
        self._phase = ""
        self._fields: dict[str, Any] = {}
        self._rich: Any = None
        self._task: Any = None
        self._live: Any = None
        if not self.plain:
            try:
                import rich  # noqa: F401
            except ImportError:
                self.plain = True

    def __enter__(self) -> Progress:
        if not self.plain:
            from rich.console import Group
            from rich.live import Live
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"),
                                      TimeElapsedColumn())
            self._task = self._rich.add_task(self.title, total=self.total)
            self._group = Group
            self._live = Live(self._render(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        else:
            self._line(f"{self.title}: {self.total} phase(s)")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("phase")
        for key in self._fields:
            table.add_column(key, justify="right")
        table.add_row(self._phase, *(_fmt(v) for v in self._fields.values()))
        return self._group(self._rich, table)

    def _line(self, text: str) -> None:
        print(f"[{time.monotonic() - self._t0:7.1f}s] {text}", flush=True)

    def phase(self, name: str) -> None:
        self._phase = name
        self._fields = {}
        if self.plain:
            self._line(name)
        else:
            self._refresh()

    def update(self, **fields: Any) -> None:
        """The newest measurement of the current phase (plain mode: one line per call)."""
        self._fields.update(fields)
        if self.plain:
            self._line(f"  {self._phase}: " + " ".join(f"{k}={_fmt(v)}"
                                                      for k, v in fields.items()))
        else:
            self._refresh()

    def log(self, text: str) -> None:
        if self.plain or self._live is None:
            self._line(text)
        else:
            self._live.console.print(text)

    def advance(self) -> None:
        if self._rich is not None:
            self._rich.advance(self._task)
            self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
