"""The output lock on its own (no Spark): one holder per path, a clear refusal naming the
holder, renewal, and a race-free takeover of a lock whose run is gone."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from segmentation.core.errors import OutputError
from segmentation.core.fs import ArrowFS, LocalFS
from segmentation.core.lock import OutputLock, lock_path


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_lock(out: Path, *, host: str, pid: int, age_seconds: float = 0.0) -> Path:
    """A lock file as another run would have left it."""
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)).isoformat()
    path = Path(lock_path(str(out)))
    written = path.with_name(path.name + ".writing")  # renamed in place, as runs write it
    written.write_text(json.dumps({"host": host, "pid": pid, "started_at": when,
                                   "run_id": "otherrun0000", "renewed_at": when}))
    written.replace(path)
    return path


def test_lock_file_names_this_run_and_goes_away_on_release(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out)) as lock:
        held = json.loads((tmp_path / ".out.lock").read_text())
        assert held["host"] == socket.gethostname() and held["pid"] == os.getpid()
        assert held["run_id"] == lock.holder.run_id
        assert set(held) == {"host", "pid", "started_at", "run_id", "renewed_at"}
    assert not (tmp_path / ".out.lock").exists()


def test_lock_is_released_when_the_job_raises(tmp_path):
    with pytest.raises(RuntimeError), OutputLock(LocalFS(), str(tmp_path / "out")):
        raise RuntimeError("job died")
    assert not (tmp_path / ".out.lock").exists()


def test_second_run_is_refused_naming_the_holder(tmp_path):
    out = str(tmp_path / "out")
    with OutputLock(LocalFS(), out) as first:
        with pytest.raises(OutputError) as refused:
            OutputLock(LocalFS(), out, name="--output").acquire()
        message = str(refused.value)
        assert message.startswith(f"--output {out} is being written by another run "
                                  f"{first.holder.run_id} on host {socket.gethostname()}, "
                                  f"pid {os.getpid()}, started at {first.holder.started_at}")
        assert "\n" not in message
    OutputLock(LocalFS(), out).acquire()  # free again once the first released it


def test_live_run_on_another_host_is_refused(tmp_path):
    write_lock(tmp_path / "out", host="other-host.example", pid=1, age_seconds=30)
    with pytest.raises(OutputError, match="host other-host.example, pid 1"):
        OutputLock(LocalFS(), str(tmp_path / "out")).acquire()


@pytest.mark.parametrize(("host", "pid", "age"), [
    (socket.gethostname(), None, 0.0),          # this host, process gone
    ("other-host.example", 1, 600.0),           # another host, lease long expired
], ids=["dead pid", "expired lease"])
def test_stale_lock_is_taken_over(tmp_path, caplog, host, pid, age):
    stale = write_lock(tmp_path / "out", host=host, pid=pid or dead_pid(), age_seconds=age)
    with OutputLock(LocalFS(), str(tmp_path / "out")) as lock:
        assert json.loads(stale.read_text())["run_id"] == lock.holder.run_id
    assert "taking over the lock of run otherrun0000" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no lock, nothing moved aside


def test_unreadable_lock_is_refused(tmp_path):
    (tmp_path / ".out.lock").write_text("not json")
    with pytest.raises(OutputError, match="not a lock of this program"):
        OutputLock(LocalFS(), str(tmp_path / "out")).acquire()


def _holder_in(tmp_path: Path) -> dict:
    return json.loads((tmp_path / ".out.lock").read_text())


def test_holder_renews_its_lock(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out), renew_seconds=0.05) as lock:
        first = _holder_in(tmp_path)["renewed_at"]
        for _ in range(100):
            if _holder_in(tmp_path)["renewed_at"] != first:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the lock was never renewed")
        lock.check_held()


def test_a_lock_taken_from_the_holder_is_noticed(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out), renew_seconds=60) as lock:
        lock.check_held()
        write_lock(out, host="other-host.example", pid=1)  # taken from us
        with pytest.raises(OutputError, match="this run lost its lock .*other-host.example"):
            lock.check_held()
    assert (tmp_path / ".out.lock").exists()  # not ours: left in place


def test_the_renewer_stops_once_its_lock_is_taken(tmp_path, caplog):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out), renew_seconds=0.05):
        for _ in range(100):
            # A renewal that read the file just before this write overwrites it (a file
            # system has no compare-and-swap); the taker then loses instead, so the test
            # takes the lock again until the renewer has seen it gone.
            if _holder_in(tmp_path)["host"] != "other-host.example":
                write_lock(out, host="other-host.example", pid=1)
            if "this run lost its lock" in caplog.text:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the renewer never noticed that its lock was taken")
        time.sleep(0.3)  # six renewal periods: none may write
        assert _holder_in(tmp_path)["host"] == "other-host.example"


def test_a_lock_file_overwritten_with_other_bytes_is_lost(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out), renew_seconds=60) as lock:
        (tmp_path / ".out.lock").write_text("{half a lock")
        with pytest.raises(OutputError, match="lost its lock .the lock file was overwritten"):
            lock.check_held()
    assert (tmp_path / ".out.lock").read_text() == "{half a lock"  # not ours: left in place


def test_a_lock_file_being_rewritten_by_its_holder_is_not_lost(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out), renew_seconds=60) as lock:
        whole = (tmp_path / ".out.lock").read_bytes()
        (tmp_path / ".out.lock").write_bytes(whole[:10])  # a reader sees a partial write
        threading.Timer(0.1, (tmp_path / ".out.lock").write_bytes, [whole]).start()
        lock.check_held()


def _race(out: str, start, done, results) -> None:
    start.wait()
    try:
        lock = OutputLock(LocalFS(), out)
        lock.acquire()
    except OutputError as exc:
        results.put(("refused", str(exc)))
        return
    results.put(("held", lock.holder.run_id))
    done.wait(60)  # hold it until every process has tried
    lock.release()


def test_racing_takeovers_of_a_stale_lock_leave_one_holder(tmp_path):
    out = tmp_path / "out"
    write_lock(out, host=socket.gethostname(), pid=dead_pid())
    context = multiprocessing.get_context("fork")
    racers = 6
    start, done, results = context.Barrier(racers), context.Event(), context.Queue()
    procs = [context.Process(target=_race, args=(str(out), start, done, results))
             for _ in range(racers)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    held = [value for kind, value in outcomes if kind == "held"]
    assert len(held) == 1, outcomes
    assert json.loads((tmp_path / ".out.lock").read_text())["run_id"] == held[0]
    refusals = [value for kind, value in outcomes if kind == "refused"]
    assert all(f"another run {held[0]}" in message for message in refusals), refusals
    done.set()
    for proc in procs:
        proc.join(timeout=60)
    assert not (tmp_path / ".out.lock").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_pyarrow_file_systems_refuse_a_second_run(tmp_path):
    """The remote code path (pyarrow), here on pyarrow's local file system."""
    fs, out = ArrowFS(pafs.LocalFileSystem()), str(tmp_path / "out")
    with OutputLock(fs, out) as lock:
        with pytest.raises(OutputError, match=f"another run {lock.holder.run_id}"):
            OutputLock(fs, out).acquire()
    assert not (tmp_path / ".out.lock").exists()
