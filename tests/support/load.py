"""Client load for the probes: writer and reader threads against S3 gateways, bounded in count
and stopped on demand, with a tally of what was acknowledged, read back and refused (by error
code), and the slowest request of each phase.

    load = Load([cluster_client(cluster)], "probe", writers=2, readers=2, max_writes=300)
    with load:                      # start() ... stop(): threads joined, nothing left running
        load.wait_for_operations(20, within=...)
        load.mark("ring changed")   # later operations count under this phase
        ...                         # change the cluster under the clients
        load.wait_for_operations(20, phase="ring changed", within=...)
    lost = lost_writes(s3, "probe", load.writes)
    print(load.report(len(lost)))

``Load(...).run()`` is a bounded stream instead: every write done (``max_writes``), then
returns. Keys are ``PREFIX/NNNNN``; each body is derived from its key (``default_body``) so a
read is checked against the SHA-256 recorded when the write was acknowledged.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client

from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

Body = Callable[[str, int], bytes]


def s3_client(
    endpoint: str, access_key: str, secret_key: str, *, read_timeout: float = 30.0
) -> S3Client:
    """A boto3 client that tries each request once (the probes count every failure)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(
            retries={"max_attempts": 1},
            connect_timeout=budget(1.0),
            read_timeout=read_timeout,
        ),
    )


def cluster_client(cluster: StorageCluster, gateway: int = 0) -> S3Client:
    """A client of gateway ``gateway``. Its read timeout is the longest the gateway may wait on
    its nodes (every node slow), with the slack of a busy machine: a request that outlives it
    hangs, and fails as ``ReadTimeoutError``."""
    return s3_client(
        cluster.endpoints[gateway],
        cluster.access_key,
        cluster.secret_key,
        read_timeout=budget(cluster.request_seconds),
    )


def _timeouts(s3: S3Client) -> float:
    """The longest one request of ``s3`` may take: reaching the gateway, then its answer."""
    config = s3.meta.config
    return float(getattr(config, "connect_timeout", 60)) + float(
        getattr(config, "read_timeout", 60)
    )


def error_code(error: Exception) -> str:
    """The S3 error code of a refused request; the exception's name for a transport error."""
    if isinstance(error, ClientError):
        found = error.response.get("Error", {}).get("Code")
        return str(found or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    return type(error).__name__


def default_body(key: str, index: int) -> bytes:
    """2 to 8 KiB derived from the key."""
    return hashlib.sha256(key.encode()).digest() * (64 + index % 200)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Writes:
    attempted: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> sha256 of its body
    errors: Counter[str] = field(default_factory=Counter)  # error code -> writes refused so
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def known(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.acknowledged.items())

    def report(self, lost: int) -> str:
        return (
            f"attempted {self.attempted}, acknowledged {len(self.acknowledged)},"
            f" failed {self.failed}{_codes(self.errors)}, lost {lost}"
        )


@dataclass
class Reads:
    attempted: int = 0
    intact: int = 0
    wrong: list[str] = field(default_factory=list)  # keys that read back other bytes
    errors: Counter[str] = field(default_factory=Counter)  # error code -> reads that failed
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def report(self) -> str:
        return (
            f"reads attempted {self.attempted}, intact {self.intact}, wrong {len(self.wrong)},"
            f" failed {self.failed}{_codes(self.errors)}"
        )


def _codes(errors: Counter[str]) -> str:
    return f" ({', '.join(f'{c} {n}' for c, n in errors.most_common())})" if errors else ""


def lost_writes(s3: S3Client, bucket: str, writes: Writes) -> list[str]:
    """The acknowledged keys that do not read back with the bytes that were written."""
    lost = []
    for key, expected in writes.known():
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError):
            lost.append(key)
            continue
        if digest(body) != expected:
            lost.append(key)
    return lost


class Load:
    """``writers`` + ``readers`` threads; worker ``n`` uses ``clients[n % len(clients)]``.

    Writers write keys ``prefix/00000`` onwards until ``max_writes`` were attempted (over all
    writers) or ``stop``. Readers read random acknowledged keys (this load's, and those of the
    ``known`` tallies) until ``max_reads`` or ``stop``, and check each. ``pace`` seconds pass
    between one worker's operations. Every operation counts under the phase current when it
    started (``mark``), with the slowest of each phase in ``worst`` (under ``"a→b"`` when it
    started in phase a and ended in phase b).
    """

    def __init__(
        self,
        clients: Sequence[S3Client],
        bucket: str,
        *,
        writers: int = 4,
        readers: int = 0,
        max_writes: int = 1000,
        max_reads: int = 10_000,
        pace: float = 0.0,
        prefix: str = "load",
        body: Body = default_body,
        known: Sequence[Writes] = (),
        seed: int = 0,
    ) -> None:
        if not clients:
            raise ValueError("a load needs at least one client")
        self.clients = list(clients)
        self.bucket = bucket
        self.max_writes = max_writes
        self.max_reads = max_reads
        self.pace = pace
        self.prefix = prefix
        self.body = body
        self.known = list(known)
        self.writes = Writes()
        self.reads = Reads()
        self.phase = "start"
        self.operations: Counter[str] = Counter()  # phase -> operations started in it
        self.worst: dict[str, float] = {}  # phase -> slowest operation, seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._writer, args=(n,), name=f"writer-{n}", daemon=True)
            for n in range(writers)
        ] + [
            threading.Thread(
                target=self._reader, args=(writers + n, seed + n), name=f"reader-{n}", daemon=True
            )
            for n in range(readers)
        ]

    # -- driving -----------------------------------------------------------------------------

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop every worker after its current operation and wait for it."""
        self._stop.set()
        self.join()

    def join(self) -> None:
        # Each operation is bounded by its client's timeouts: a worker that outlives them hangs.
        limit = budget(self.request_limit + self.pace)
        for thread in self._threads:
            thread.join(timeout=limit)
        hung = [t.name for t in self._threads if t.is_alive()]
        assert not hung, f"load workers still running {limit:.0f} s after stop: {hung}"

    def run(self) -> Load:
        """Start, and return once every bounded worker is done (``max_writes``/``max_reads``)."""
        self.start()
        self.join()
        return self

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def mark(self, phase: str) -> None:
        """Count the operations that start from now on under ``phase``."""
        with self._lock:
            self.phase = phase

    def done(self, phase: str | None = None) -> int:
        """Operations started (in ``phase``, or in all)."""
        with self._lock:
            return self.operations[phase] if phase else sum(self.operations.values())

    def wait_for_operations(
        self, count: int, *, phase: str | None = None, within: float | None = None
    ) -> float:
        """Wait until ``count`` operations started (in ``phase``); the seconds it took. Fails if
        the workers ended or the deadline passed first. The deadline defaults to the longest
        ``count`` operations may take, spread over the workers, each bounded by its client's
        timeouts (derived from the cluster's node timeouts, see ``cluster_client``)."""
        if within is None:
            rounds = -(-count // max(1, len(self._threads))) + 1
            within = rounds * (self.request_limit + self.pace)
        polled = poll(
            lambda: self.done(phase),
            lambda n: n >= count or not self.running,
            within=within,
        )
        where = f" in phase {phase!r}" if phase else ""
        assert polled.value >= count, (
            f"{polled.value} operations{where}, not {count}, within {polled.seconds:.1f} s"
            f" ({'workers ended' if not self.running else 'deadline'})"
        )
        return polled.seconds

    @property
    def request_limit(self) -> float:
        """The longest one operation may take: its client's connect and read timeouts."""
        return max(_timeouts(c) for c in self.clients)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def slowest(self) -> float:
        return max(self.worst.values(), default=0.0)

    def report(self, lost: int) -> str:
        phases = ", ".join(
            f"{phase}: {self.operations[phase]} ops, slowest {self.worst.get(phase, 0.0):.2f} s"
            for phase in self.operations
        )
        changes = ", ".join(
            f"{label} slowest {seconds:.2f} s"
            for label, seconds in self.worst.items()
            if "→" in label
        )
        if changes:
            phases += f" (across a phase change: {changes})"
        return f"writes {self.writes.report(lost)}; {self.reads.report()}; by phase {phases}"

    # -- the workers -------------------------------------------------------------------------

    def _begin(self) -> str:
        with self._lock:
            self.operations[self.phase] += 1
            return self.phase

    def _end(self, phase: str, started: float) -> None:
        """Record the operation's time under its phase, or under ``start→end`` when the phase
        changed while it ran (it saw both)."""
        elapsed = time.monotonic() - started
        with self._lock:
            label = phase if self.phase == phase else f"{phase}→{self.phase}"
            self.worst[label] = max(self.worst.get(label, 0.0), elapsed)

    def _next_write(self) -> int | None:
        with self.writes.lock:
            if self.writes.attempted >= self.max_writes:
                return None
            self.writes.attempted += 1
            return self.writes.attempted - 1

    def _writer(self, worker: int) -> None:
        s3 = self.clients[worker % len(self.clients)]
        while not self._stop.is_set():
            index = self._next_write()
            if index is None:
                return
            key = f"{self.prefix}/{index:05d}"
            body = self.body(key, index)
            phase, started = self._begin(), time.monotonic()
            try:
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except (ClientError, BotoCoreError) as exc:
                with self.writes.lock:
                    self.writes.errors[error_code(exc)] += 1
            else:
                with self.writes.lock:
                    self.writes.acknowledged[key] = digest(body)
            finally:
                self._end(phase, started)
            self._stop.wait(self.pace)

    def _reader(self, worker: int, seed: int) -> None:
        s3 = self.clients[worker % len(self.clients)]
        pick = random.Random(seed)
        while not self._stop.is_set():
            known = [item for writes in (self.writes, *self.known) for item in writes.known()]
            if not known:
                self._stop.wait(self.pace or 0.05)  # nothing acknowledged to read yet
                continue
            with self.reads.lock:
                if self.reads.attempted >= self.max_reads:
                    return
                self.reads.attempted += 1
            key, expected = pick.choice(known)
            phase, started = self._begin(), time.monotonic()
            try:
                got = s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except (ClientError, BotoCoreError) as exc:
                with self.reads.lock:
                    self.reads.errors[error_code(exc)] += 1
            else:
                with self.reads.lock:
                    if digest(got) == expected:
                        self.reads.intact += 1
                    else:
                        self.reads.wrong.append(key)
            finally:
                self._end(phase, started)
            self._stop.wait(self.pace)
