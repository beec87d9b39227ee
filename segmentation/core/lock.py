"""One run per output path: a lock file next to the output, held for the whole job.

The lock is ``<parent>/.<name>.lock``, created only if absent (see
:meth:`~segmentation.core.fs.FileSystem.create_new`) and holding JSON ``{host, machine,
pid, pid_started, started_at, run_id, renewed_at}``. While the job runs, a daemon thread
rewrites ``renewed_at`` every :data:`RENEW_SECONDS`. Another run that finds the lock is
refused (:class:`~segmentation.core.errors.OutputError`, naming the holder) unless the lock
is stale: its holder's process is gone, or its ``renewed_at`` is more than
:data:`LEASE_SECONDS` old. Clocks of the hosts must agree to well within the lease.

A process is judged gone only where its pid means the same process to us: the same host
name, the same kernel boot and the same pid namespace (``machine``), and then either no
process has the pid or the one that has it started at another time than the holder
(``pid_started``: a pid reused). Containers share host names across pid namespaces
(restarted pods, host networking) and a host name can come back on another node: a lock
from any of those is judged by its lease only, so a live run's lock is never taken.

Taking over a stale lock: one taker at a time claims it, by creating
``<lock>.takeover-<stale run id>`` (create-if-absent), reads the lock again and deletes it
only if it is still the stale one; then it creates its own lock like any run, and the
other takers, who waited for the claim to go, find that lock and are refused. (Moving the
lock aside to judge it, as earlier versions did, could move a live lock that a faster
taker had just created, and let a third run create one in the gap: two holders.) A claim
whose taker is gone from this host, or older than :data:`CLAIM_SECONDS`, is abandoned and
deleted. On a local disk and on HDFS (create-if-absent) exactly one run holds a path; on
object stores (S3, GCS, Azure),
where pyarrow has no create-if-absent and a rename is a copy, the lock still refuses a
run started after the holder wrote its lock, but two runs started within the same
moment can both proceed: run one job per output path there (docs/connect.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from types import TracebackType

from segmentation.core.errors import OutputError, one_line, service_or
from segmentation.core.fs import FileSystem, name_of, parent_of

log = logging.getLogger(__name__)

#: A lock not renewed for this long is stale, whoever holds it.
LEASE_SECONDS = 120.0
#: How often the holder renews its lock.
RENEW_SECONDS = 20.0
_LOCK = ".lock"
_ATTEMPTS = 5
#: A takeover claim older than this is abandoned (a takeover takes milliseconds).
CLAIM_SECONDS = 30.0
_CLAIM_POLL_SECONDS = 0.05
_SETTLE_SECONDS = 0.5  # how long a half-written lock file gets before it counts as foreign


def lock_path(path: str) -> str:
    """The lock file of the output ``path``: ``<parent>/.<name>.lock``."""
    return f"{parent_of(path)}/.{name_of(path)}{_LOCK}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def this_machine() -> str:
    """The kernel boot and pid namespace this process runs in (``boot:ID pid:[N]``), or ""
    where ``/proc`` does not tell (macOS)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            return f"boot:{boot.read().strip()} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def process_started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/PID/stat``); ""
    without ``/proc``; None when no live process has the pid (gone, or a zombie)."""
    if not pid_alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: the content of the lock file."""

    host: str
    pid: int
    started_at: str
    run_id: str
    renewed_at: str
    #: :func:`this_machine` of the holder ("" in locks of versions before it).
    machine: str = ""
    #: :func:`process_started` of the holder's pid.
    pid_started: str = ""

    @classmethod
    def this_process(cls) -> Holder:
        now = _now().isoformat()
        return cls(socket.gethostname(), os.getpid(), now, uuid.uuid4().hex[:12], now,
                   this_machine(), process_started(os.getpid()) or "")

    @classmethod
    def parse(cls, data: bytes) -> Holder | None:
        """The holder written in a lock file, or None when it is not one of ours."""
        try:
            fields = json.loads(data)
            return cls(str(fields["host"]), int(fields["pid"]), str(fields["started_at"]),
                       str(fields["run_id"]), str(fields["renewed_at"]),
                       str(fields.get("machine", "")), str(fields.get("pid_started", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    def renewed(self) -> Holder:
        return replace(self, renewed_at=_now().isoformat())

    def age_seconds(self) -> float:
        """Seconds since the holder last renewed (its clock against ours)."""
        return (_now() - dt.datetime.fromisoformat(self.renewed_at)).total_seconds()

    def stale_reason(self, lease_seconds: float) -> str | None:
        """Why this lock no longer protects a live run, or None while it does."""
        if self.host == socket.gethostname() and self.machine == this_machine():
            started = process_started(self.pid)
            if started is None:
                return f"pid {self.pid} on this host is gone"
            if started and self.pid_started and started != self.pid_started:
                return f"pid {self.pid} on this host is another process now"
        if self.age_seconds() > lease_seconds:
            return f"not renewed for {self.age_seconds():.0f} s (lease {lease_seconds:.0f} s)"
        return None

    def describe(self) -> str:
        return (f"run {self.run_id} on host {self.host}, pid {self.pid}, started at "
                f"{self.started_at}, last renewed {self.age_seconds():.0f} s ago")


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # no /proc (macOS): kill(0) has to do
        return True


class OutputLock:
    """The lock of one output path, held from :meth:`acquire` to :meth:`release`.

    Use it as a context manager. ``name`` words messages the way the user gave the path
    (``output.path``, ``--output``).

    Examples
    --------
    >>> import tempfile
    >>> from segmentation.core.fs import LocalFS
    >>> out = tempfile.mkdtemp() + "/out"
    >>> with OutputLock(LocalFS(), out) as lock:
    ...     lock.check_held()
    """

    def __init__(self, fs: FileSystem, path: str, *, name: str = "output.path",
                 lease_seconds: float = LEASE_SECONDS,
                 renew_seconds: float = RENEW_SECONDS) -> None:
        self.fs, self.path, self.name = fs, path.rstrip("/"), name
        self.file = lock_path(self.path)
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.holder = Holder.this_process()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost: str | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; refuse when a live run holds it."""
        for _ in range(_ATTEMPTS):
            try:
                created = self.fs.create_new(self.file, self.holder.encode())
            except OSError as exc:
                raise service_or(OutputError, f"{self.name} {self.path} is not writable: "
                                 f"cannot create its lock file {self.file}: {one_line(exc)}",
                                 exc) from exc
            if created:
                self._start_renewing()
                return
            current = self._read(self.file)
            if current is None:
                continue  # released between our attempt and the read: try again
            if isinstance(current, bytes):
                raise OutputError(f"{self.name} {self.path} is locked by {self.file}, which is "
                                  "not a lock of this program; delete it if no run is writing")
            reason = current.stale_reason(self.lease_seconds)
            if reason is None:
                raise OutputError(f"{self.name} {self.path} is being written by another "
                                  f"{current.describe()}; wait for it to end or stop it")
            self._take_over(current, reason)
        raise OutputError(f"{self.name} {self.path}: could not take its lock {self.file} in "
                          f"{_ATTEMPTS} attempts (other runs keep taking it)")

    def check_held(self) -> None:
        """Raise unless this run still holds the lock (checked before the outputs swap)."""
        if self._lost is None:
            self._lost = self._loss()
        if self._lost is not None:
            raise OutputError(f"{self.name} {self.path}: this run lost its lock ({self._lost}); "
                              "not replacing the outputs")

    def release(self) -> None:
        """Stop renewing and delete the lock file if it is still ours."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        try:
            if self._loss() is None:
                self.fs.delete(self.file)
        except (OSError, OutputError) as exc:  # never hide the job's own outcome
            log.warning("could not delete the lock %s: %s", self.file, one_line(exc))

    def _loss(self) -> str | None:
        """How this run lost its lock, or None while the lock file is still ours.

        Bytes that are not a lock are read once more after a moment: another writer may be
        half-way through a file system whose writes are not atomic to readers (HDFS).
        """
        current = self._read(self.file)
        if isinstance(current, bytes):
            time.sleep(_SETTLE_SECONDS)
            current = self._read(self.file)
        if isinstance(current, Holder):
            return None if current.run_id == self.holder.run_id else (
                f"now held by {current.describe()}")
        return "the lock file is gone" if current is None else "the lock file was overwritten"

    def _take_over(self, stale: Holder, reason: str) -> None:
        """Delete the stale lock if this run claims it first and it is still there; else
        wait until the claim of the run that did is gone. Either way the caller tries to
        create its lock again."""
        claim = f"{self.file}.takeover-{stale.run_id}"
        if not self.fs.create_new(claim, self.holder.renewed().encode()):
            self._wait_for_claim(claim)
            return
        try:
            current = self._read(self.file)
            if isinstance(current, Holder) and current.run_id == stale.run_id:
                log.warning("%s %s: taking over the lock of %s (%s)", self.name, self.path,
                            stale.describe(), reason)
                self.fs.delete(self.file)
        finally:
            self.fs.delete(claim)

    def _wait_for_claim(self, claim: str) -> None:
        """Return once ``claim`` is gone; delete it when its taker abandoned it."""
        while True:
            taker = self._read(claim)
            if isinstance(taker, bytes):  # half-written on a file system without atomic writes
                time.sleep(_SETTLE_SECONDS)
                taker = self._read(claim)
            if taker is None:
                return
            if not isinstance(taker, Holder) or taker.stale_reason(CLAIM_SECONDS) is not None:
                log.warning("%s %s: removing the abandoned takeover claim %s", self.name,
                            self.path, claim)
                self.fs.delete(claim)
                return
            time.sleep(_CLAIM_POLL_SECONDS)

    def _read(self, file: str) -> Holder | bytes | None:
        """The holder in ``file``; its raw bytes when they are not a lock; None if absent."""
        try:
            data = self.fs.read_bytes(file)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if not self.fs.exists(file):
                return None
            raise OutputError(f"{self.name} {self.path}: cannot read its lock {file}: "
                              f"{one_line(exc)}") from exc
        return Holder.parse(data) or data

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_until_stopped, daemon=True,
                                         name=f"lock-renewer {self.file}")
        self._renewer.start()

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            try:
                self._lost = self._loss()
                if self._lost is not None:
                    log.error("%s %s: this run lost its lock (%s)", self.name, self.path,
                              self._lost)
                    return
                self.fs.replace_bytes(self.file, self.holder.renewed().encode())
            except (OSError, OutputError) as exc:  # a blip: the next renewal may succeed
                log.warning("could not renew the lock %s: %s", self.file, one_line(exc))
