"""The output lock on its own (no Spark): one holder per path, a clear refusal naming the
holder, renewal, and a race-free takeover of a lock whose run is gone."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
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


#: This machine as a lock records it: the kernel's boot id and our pid namespace.
MACHINE = (f"boot:{Path('/proc/sys/kernel/random/boot_id').read_text().strip()} "
           f"{os.readlink('/proc/self/ns/pid')}")


def started(pid: int) -> str:
    """Field 22 of ``/proc/PID/stat``: when the process started, in clock ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]


def write_lock(out: Path, *, host: str, pid: int, age_seconds: float = 0.0,
               machine: str | None = MACHINE, pid_started: str = "") -> Path:
    """A lock file as another run would have left it (``machine=None``: as a version
    before the machine was recorded left it)."""
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)).isoformat()
    path = Path(lock_path(str(out)))
    written = path.with_name(path.name + ".writing")  # renamed in place, as runs write it
    fields = {"host": host, "pid": pid, "started_at": when, "run_id": "otherrun0000",
              "renewed_at": when}
    if machine is not None:
        fields.update(machine=machine, pid_started=pid_started)
    written.write_text(json.dumps(fields))
    written.replace(path)
    return path


def test_lock_file_names_this_run_and_goes_away_on_release(tmp_path):
    out = tmp_path / "out"
    with OutputLock(LocalFS(), str(out)) as lock:
        held = json.loads((tmp_path / ".out.lock").read_text())
        assert held["host"] == socket.gethostname() and held["pid"] == os.getpid()
        assert held["run_id"] == lock.holder.run_id
        assert set(held) == {"host", "pid", "started_at", "run_id", "renewed_at", "machine",
                             "pid_started"}
        assert (held["machine"], held["pid_started"]) == (MACHINE, started(os.getpid()))
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


@pytest.mark.parametrize("machine", ["boot:5b66fa43 pid:[4026599999]", None],
                         ids=["another pid namespace", "a lock of an earlier version"])
def test_a_gone_pid_of_another_namespace_is_judged_by_the_lease_only(tmp_path, machine):
    # A container of the same host name (a restarted pod, host networking): its pid means
    # nothing here, and the run may be alive; likewise a lock that does not say.
    write_lock(tmp_path / "out", host=socket.gethostname(), pid=dead_pid(), age_seconds=30,
               machine=machine)
    with pytest.raises(OutputError, match="is being written by another run otherrun0000"):
        OutputLock(LocalFS(), str(tmp_path / "out")).acquire()
    write_lock(tmp_path / "out", host=socket.gethostname(), pid=dead_pid(), age_seconds=600,
               machine=machine)
    with OutputLock(LocalFS(), str(tmp_path / "out")):  # once the lease expired
        pass


def test_a_reused_pid_is_not_the_holder(tmp_path, caplog):
    other = subprocess.Popen(["sleep", "60"])
    try:  # a live process has the holder's pid, but started at another time
        write_lock(tmp_path / "out", host=socket.gethostname(), pid=other.pid,
                   pid_started=str(int(started(other.pid)) - 1))
        with OutputLock(LocalFS(), str(tmp_path / "out")):
            pass
        assert f"pid {other.pid} on this host is another process now" in caplog.text
        write_lock(tmp_path / "out", host=socket.gethostname(), pid=other.pid,
                   pid_started=started(other.pid))  # the very process: alive
        with pytest.raises(OutputError, match="is being written by another"):
            OutputLock(LocalFS(), str(tmp_path / "out")).acquire()
    finally:
        other.kill()
        other.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a pid namespace needs root")
def test_a_holder_in_another_pid_namespace_is_not_taken_over(tmp_path):
    # A real run's lock from a new pid namespace (unshare, as a container runtime does):
    # its pid there is 1, which here is init; the namespace tells them apart.
    holder = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", sys.executable, "-c",
         "import sys, time\n"
         "from segmentation.core.fs import LocalFS\n"
         "from segmentation.core.lock import OutputLock\n"
         "with OutputLock(LocalFS(), sys.argv[1]):\n"
         "    print('held', flush=True); time.sleep(60)\n", str(tmp_path / "out")],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        held = json.loads(Path(lock_path(str(tmp_path / "out"))).read_text())
        assert held["machine"] != MACHINE and held["machine"].startswith(MACHINE.split()[0])
        with pytest.raises(OutputError, match="is being written by another"):
            OutputLock(LocalFS(), str(tmp_path / "out")).acquire()
    finally:  # the group: the holder is its namespace's init, deaf to anything but SIGKILL
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()


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


class Interleaved(LocalFS):
    """A local disk on which other runs act at the worst moments of this one's takeover:
    ``after_read`` right after it first reads the lock (it has seen the stale holder),
    ``after_change`` right after it first renames or deletes the lock file."""

    def __init__(self, after_read, after_change) -> None:
        self.hooks = {"read": after_read, "change": after_change}

    def _fire(self, event: str, path: str) -> None:
        if path.endswith(".out.lock") and event in self.hooks:
            self.hooks.pop(event)()

    def read_bytes(self, path: str) -> bytes:
        data = super().read_bytes(path)
        self._fire("read", path)
        return data

    def rename(self, source: str, target: str) -> None:
        super().rename(source, target)
        self._fire("change", source)

    def delete(self, path: str) -> None:
        super().delete(path)
        self._fire("change", path)


def test_a_slow_taker_never_moves_the_lock_a_faster_taker_made(tmp_path):
    """Three runs meet a stale lock: a fast one takes it over while a slow one, which saw
    the stale holder, is about to; a third arrives whenever the slow one touches the lock
    file. Only the fast one holds the path (earlier versions moved its new lock aside and
    let the third create one in the gap)."""
    out = tmp_path / "out"
    write_lock(out, host=socket.gethostname(), pid=dead_pid())
    fast, third = OutputLock(LocalFS(), str(out)), OutputLock(LocalFS(), str(out))
    refusals = []

    def third_tries() -> None:
        try:
            third.acquire()
        except OutputError as exc:
            refusals.append(str(exc))

    slow = OutputLock(Interleaved(fast.acquire, third_tries), str(out))
    with pytest.raises(OutputError, match=f"another run {fast.holder.run_id}"):
        slow.acquire()
    third_tries()
    assert refusals and all(f"another run {fast.holder.run_id}" in r for r in refusals)
    fast.check_held()
    fast.release()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_pyarrow_file_systems_refuse_a_second_run(tmp_path):
    """The remote code path (pyarrow), here on pyarrow's local file system."""
    fs, out = ArrowFS(pafs.LocalFileSystem()), str(tmp_path / "out")
    with OutputLock(fs, out) as lock:
        with pytest.raises(OutputError, match=f"another run {lock.holder.run_id}"):
            OutputLock(fs, out).acquire()
    assert not (tmp_path / ".out.lock").exists()
