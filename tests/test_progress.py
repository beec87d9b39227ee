"""Progress of long jobs: estimates of time left from hand-computed plans, and what a log
reader and a terminal user see while a stage runs."""

from __future__ import annotations

import io
import logging
import time

import pytest

from segmentation.core import progress
from segmentation.core.progress import RunEstimate, StageProgress, duration
from segmentation.core.runinfo import StageTimer


def test_durations_read_as_people_write_them():
    assert [duration(s) for s in (0.4, 12, 245, 3720)] == ["0s", "12s", "4m05s", "1h02m"]


def test_estimates_price_the_stages_to_come_by_the_finished_ones():
    estimate = RunEstimate({"read": 2, "fit": 5, "write": 3})
    assert estimate.run_left("read", 10.0) is None  # nothing finished: no estimate yet
    estimate.finish("read", 40.0)  # 20 s per unit of weight
    assert estimate.stage_left("fit", 30.0) == pytest.approx(5 * 20 - 30)
    assert estimate.run_left("fit", 30.0) == pytest.approx(70 + 3 * 20)
    assert estimate.stage_left("fit", 130.0) == pytest.approx(-30)  # over its estimate
    assert estimate.run_left("fit", 130.0) == pytest.approx(3 * 20)  # never below the rest
    estimate.skip("write")
    assert estimate.run_left(None, 0.0) == pytest.approx(5 * 20)
    estimate.finish("fit", 60.0)  # (40 + 60) s / 7 units
    assert estimate.seconds_per_weight() == pytest.approx(100 / 7)
    assert estimate.stage_left("unplanned", 5.0) is None


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_while_a_stage_runs_and_one_when_it_ends(monkeypatch, caplog):
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0.05)
    timer = StageTimer({"read": 1, "fit": 3})
    timer.rows = 1_000_000
    caplog.set_level(logging.INFO)
    with timer.stage("read"):
        time.sleep(0.3)
    with timer.stage("fit"):
        time.sleep(0.3)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("read: 0s, 1,000,000 rows, time left: estimating")
               for line in lines)
    assert any(line.startswith("fit: 0s, 1,000,000 rows, stage ~1s left, run ~1s left")
               for line in lines)
    ends = [line for line in lines if " s, 1,000,000 rows, " in line]
    assert ends[0].startswith("read: 0.3 s, 1,000,000 rows, ") and "run ~1s left" in ends[0]
    seconds = timer.seconds["fit"]
    assert ends[1] == f"fit: {seconds:.1f} s, 1,000,000 rows, {1e6 / seconds:,.0f} rows/s"


def test_a_terminal_sees_one_line_rewritten_and_cleared_before_log_lines(monkeypatch):
    monkeypatch.setattr(progress, "LINE_EVERY_SECONDS", 0.05)
    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        shown = StageProgress("fit", 42, RunEstimate({}), stream=terminal)
        time.sleep(0.3)
        logging.getLogger("job").warning("something to say")
        time.sleep(0.2)
        shown.stop()
    finally:
        root.removeHandler(handler)
    text = terminal.getvalue()
    assert "\r\x1b[Kfit: 0s, 42 rows, time left: estimating" in text
    assert "\n" not in text.split("something to say")[0]  # the line was rewritten in place
    assert "\r\x1b[Ksomething to say\n" in text  # cleared before the log line
    assert text.endswith("\r\x1b[K")  # and gone when the stage ends
    assert not handler.filters
