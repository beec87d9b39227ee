"""Progress of a long job: per stage, the rows it works on, rows per second, and the time
left in the stage and in the run.

The estimates price the stages still to come by the ones already finished: each planned
stage has a weight, its share of a run's time, given by the job (``segment run``'s are
measured: :data:`segmentation.run.job.RUN_STAGE_WEIGHTS`), and the seconds per unit of
weight that the finished stages took set the price of the rest. Before the first stage ends
there is no estimate, and a stage that outlasts its estimate says so instead of counting
below zero.

Where it shows: on a terminal (stderr is a TTY), one line rewritten in place every second
while a stage runs, cleared before any log line; elsewhere a plain log line every
:data:`LOG_EVERY_SECONDS` while a stage runs. Each stage's end is always logged.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import TextIO

log = logging.getLogger(__name__)

#: Seconds between progress log lines while a stage runs (not on a terminal).
LOG_EVERY_SECONDS = 30.0
#: Seconds between rewrites of the progress line on a terminal.
LINE_EVERY_SECONDS = 1.0


def duration(seconds: float, *, spaced: bool = False) -> str:
    """``seconds`` as a log line writes them, or ``spaced`` as the report's page does.

    >>> duration(12.42), duration(187), duration(3725)
    ('12s', '3m07s', '1h02m')
    >>> duration(12.42, spaced=True), duration(187, spaced=True), duration(3725, spaced=True)
    ('12.4 s', '3 min 07 s', '1 h 02 min')
    """
    if spaced and seconds < 60:
        return f"{seconds:.1f} s"
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if spaced:
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class RunEstimate:
    """Seconds left per stage and for the run, from a plan of stage weights and the
    durations of the stages finished so far."""

    def __init__(self, plan: Mapping[str, float]) -> None:
        self.plan = dict(plan)
        self.finished: dict[str, float] = {}

    def finish(self, stage: str, seconds: float) -> None:
        self.finished[stage] = seconds

    def skip(self, stage: str) -> None:
        """Drop a planned stage that will not run (its weight no longer counts as left)."""
        self.plan.pop(stage, None)

    def seconds_per_weight(self) -> float | None:
        done = [(s, w) for s, w in self.plan.items() if s in self.finished]
        weight = sum(w for _, w in done)
        if not weight:
            return None
        return sum(self.finished[s] for s, _ in done) / weight

    def stage_left(self, stage: str, elapsed: float) -> float | None:
        """Seconds ``stage`` still needs after ``elapsed``; None without an estimate."""
        rate = self.seconds_per_weight()
        if rate is None or stage not in self.plan:
            return None
        return self.plan[stage] * rate - elapsed

    def run_left(self, running: str | None, elapsed: float) -> float | None:
        """Seconds the run still needs: the running stage's rest plus the stages to come."""
        rate = self.seconds_per_weight()
        if rate is None:
            return None
        later = sum(w for s, w in self.plan.items() if s not in self.finished and s != running)
        current = self.stage_left(running, elapsed) if running else 0.0
        return max(current or 0.0, 0.0) + later * rate


class StageProgress:
    """Reports one running stage until :meth:`stop`: a rewritten line or periodic log
    lines, from a daemon thread."""

    def __init__(self, stage: str, rows: int | None, estimate: RunEstimate,
                 stream: TextIO | None = None) -> None:
        self.stage, self.rows, self.estimate = stage, rows, estimate
        self.stream = stream if stream is not None else sys.stderr
        self.on_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._done = threading.Event()
        self._clear = _ClearLine(self.stream)
        self._thread = threading.Thread(target=self._report, daemon=True,
                                        name=f"progress-{stage}")
        if self.on_terminal:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._clear)
        self._thread.start()

    def status(self) -> str:
        """The stage's state: elapsed, rows and the time left in the stage and the run."""
        elapsed = time.perf_counter() - self.started
        parts = [f"{self.stage}: {duration(elapsed)}"]
        if self.rows is not None:
            parts.append(f"{self.rows:,} rows")
        left = self.estimate.stage_left(self.stage, elapsed)
        if self.estimate.seconds_per_weight() is None:
            parts.append("time left: estimating")
        elif left is None:
            pass  # a stage outside the plan: no estimate of its own
        elif left < 0:
            parts.append(f"stage {duration(-left)} over its estimate")
        else:
            parts.append(f"stage ~{duration(left)} left")
        run_left = self.estimate.run_left(self.stage, elapsed)
        if run_left is not None:
            parts.append(f"run ~{duration(run_left)} left")
        return ", ".join(parts)

    def _report(self) -> None:
        every = LINE_EVERY_SECONDS if self.on_terminal else LOG_EVERY_SECONDS
        while not self._done.wait(every):
            if self.on_terminal:
                self._clear.show(self.status())
            else:
                log.info("%s", self.status())

    def stop(self) -> float:
        """End the report (clearing the terminal line); the stage's seconds."""
        self._done.set()
        self._thread.join()
        if self.on_terminal:
            self._clear.show("")
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._clear)
        return time.perf_counter() - self.started


class _ClearLine(logging.Filter):
    """The terminal's progress line: shown in place, and wiped before a log line prints."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.lock = threading.Lock()
        self.shown = False

    def show(self, text: str) -> None:
        with self.lock:
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self.shown = bool(text)

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.shown = False
        return True
