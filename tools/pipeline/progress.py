"""Live progress while nox runs the gates: which are running, for how long, and
which have ended, with their verdict and duration.

nox's parallel runner prints ``Starting session lint...`` when a session
starts and holds the session's own output until it ends, then prints it as one
block headed ``========== ✓ lint: success, 2 seconds ==========``. Those two
lines are all this reads; the blocks themselves still reach the console whole.

On a terminal one status line at the bottom is redrawn in place every second
(it is erased before any other output, and on exit, Ctrl-C and SIGTERM
included). Elsewhere (CI logs, ``| tee``) it prints one line per change and,
every ``every_s`` seconds, a "still running" line for each running gate.
Written here rather than with rich: one redrawn line needs three ANSI codes,
and rich's Live would own stdout, which the gates' blocks must reach unchanged.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from tools.text import console

# A gate silent this long in CI logs gets a "still running" line: often enough
# to tell a slow gate from a hung one, rare enough not to drown the log (a
# 10-minute test gate adds 20 lines).
STILL_RUNNING_EVERY_S = 30.0
REDRAW_EVERY_S = 1.0
_STARTED = re.compile(r"^Starting session (?P<name>[\w.()=,-]+)\.\.\.$")
# Under --parallel, nox prints each session's output as one block at its end,
# headed by "========== ✓ lint: success, 2 seconds ==========" (SessionLogs
# in __main__ splits the output at it too).
BLOCK_HEADER = re.compile(r"^={10} \S+ (?P<name>[\w.()=,-]+): (?P<result>\w+)")
# nox's words for a session's end, in the pipeline's words for a gate's.
# ("aborted": a prerequisite failed, so the session never started.)
VERDICTS = {"success": "passed", "failed": "failed", "skipped": "skipped", "aborted": "skipped"}
ERASE = "\r\x1b[2K"


def seconds(value: float) -> str:
    return f"{value:.0f}s" if value < 600 else f"{value / 60:.0f}min"


@dataclass
class Progress:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    live: bool = False  # a terminal: one status line redrawn in place
    every_s: float = STILL_RUNNING_EVERY_S
    running: dict[str, float] = field(default_factory=dict)  # gate -> monotonic start
    ended: dict[str, tuple[str, float]] = field(default_factory=dict)  # gate -> verdict, s
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _shown: bool = False
    _last_note: dict[str, float] = field(default_factory=dict)

    @classmethod
    def for_console(cls, every_s: float = STILL_RUNNING_EVERY_S) -> Progress:
        return cls(out=sys.stdout, live=sys.stdout.isatty(), every_s=every_s)

    # -- what nox printed ---------------------------------------------------

    def echo(self, line: str) -> None:
        """One line of nox's output: shown, and read for starts and ends."""
        with self._lock:
            self._erase()
            self.out.write(line + "\n")
            if started := _STARTED.match(line):
                self._start(started["name"])
            elif ended := BLOCK_HEADER.match(line):
                self._end(ended["name"], VERDICTS.get(ended["result"], ended["result"]))
            self._draw()
            self.out.flush()

    def _start(self, name: str) -> None:
        now = time.monotonic()
        self.running[name] = self._last_note[name] = now
        self.ended.pop(name, None)  # run again (--keep-going): its earlier end is history
        if not self.live:
            self.out.write(f"pipeline: {console(name)} started\n")

    def _end(self, name: str, verdict: str) -> None:
        started = self.running.pop(name, None)
        took = time.monotonic() - started if started is not None else 0.0
        self.ended[name] = (verdict, took)
        if not self.live:
            after = f" after {seconds(took)}" if started is not None else ""
            self.out.write(f"pipeline: {console(name)} {verdict}{after}\n")

    # -- the clock ------------------------------------------------------------

    def tick(self) -> None:
        """Redraw the status line, or note each gate silent for ``every_s``."""
        with self._lock:
            now = time.monotonic()
            if self.live:
                self._erase()
                self._draw()
            else:
                for name, started in self.running.items():
                    if now - self._last_note[name] >= self.every_s:
                        self._last_note[name] = now
                        self.out.write(
                            f"pipeline: {console(name)} still running ({seconds(now - started)})\n"
                        )
            self.out.flush()

    def __enter__(self) -> Progress:
        interval = REDRAW_EVERY_S if self.live else min(self.every_s, REDRAW_EVERY_S)
        thread = threading.Thread(target=self._ticking, args=(interval,), daemon=True)
        thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        with self._lock:
            self._erase()
            self.out.flush()

    def _ticking(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.tick()

    # -- the status line ------------------------------------------------------

    def status_line(self) -> str:
        now = time.monotonic()
        parts = [f"{console(n)} {seconds(now - s)}" for n, s in self.running.items()]
        done = [
            f"{console(n)} {v}" + (f" {seconds(t)}" if t else "")
            for n, (v, t) in self.ended.items()
        ]
        line = "running: " + (", ".join(parts) or "-")
        return line + (" | done: " + ", ".join(done) if done else "")

    def _draw(self) -> None:
        if self.live and (self.running or self.ended):
            width = shutil.get_terminal_size().columns - 1
            self.out.write(self.status_line()[:width])
            self._shown = True

    def _erase(self) -> None:
        if self.live and self._shown:
            self.out.write(ERASE)
            self._shown = False
