"""The auditor: re-read every blob, quarantine the ones whose bytes no longer match their facts.

A pass walks every hash dir of every device (``iter_hashes``). For the visible ``.data`` it reads
the ``.meta`` sidecar (size, md5 and block digests recorded at PUT time) and re-reads the data,
checking every block with the same check a GET makes (``store.blocks``), then size and md5.
A mismatch, a missing or unreadable sidecar moves the hash dir to
``<device>/quarantined/objects/<hash>`` (its suffix hash changes, so replication restores a good
copy from another node). A hash dir that gained a newer write meanwhile is left alone.

Reads are paced by ``files_per_second`` and ``bytes_per_second`` so that auditing never competes
with client traffic for the disk; each pass logs progress every ``log_every`` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nimbus_storage.blobs.blocks import BlockDigests, CorruptBlob
from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.layout import DATA_EXT, META_EXT, OnDiskFile, newest_state
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.pacing import Pacer

log = logging.getLogger("nimbus.auditor")

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AuditorSettings:
    files_per_second: float = 20.0  # 0: unlimited
    bytes_per_second: float = 10 * 1024 * 1024  # 0: unlimited
    interval: float = 3600.0  # seconds between the starts of two passes
    log_every: float = 60.0  # seconds between progress logs within a pass


@dataclass
class PassReport:
    files: int = 0  # data files checked
    bytes: int = 0
    quarantined: list[Path] = field(default_factory=list)  # where the bad hash dirs went
    errors: int = 0
    seconds: float = 0.0

    def counts(self) -> str:
        return (
            f"{self.files} files, {self.bytes} bytes checked, {len(self.quarantined)} quarantined,"
            f" {self.errors} errors"
        )


@dataclass(frozen=True, slots=True)
class _Verdict:
    size_read: int
    problem: str | None  # None: the data matches its facts


async def run_pass(
    stores: Iterable[DiskBlobStore],
    settings: AuditorSettings = AuditorSettings(),
    *,
    metrics: NodeMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PassReport:
    """Audit every hash dir of ``stores`` once (``clock`` and ``sleep`` pace it)."""
    audit = _Pass(settings, metrics, clock, sleep)
    for store in stores:
        for partition in await asyncio.to_thread(store.partitions):
            hash_dirs = await asyncio.to_thread(_hash_dirs, store, partition)
            for hash_path in hash_dirs:
                await audit.check(store, hash_path)
                audit.maybe_log(f"{store.device} partition {partition}")
    report = audit.report
    report.seconds = clock() - audit.started
    log.info("audit pass done in %.1fs: %s", report.seconds, report.counts())
    return report


def _hash_dirs(store: DiskBlobStore, partition: int) -> list[Path]:
    return [path for _part, path in store.iter_hashes(partition)]


async def run_forever(
    stores: Callable[[], list[DiskBlobStore]],
    settings: AuditorSettings,
    *,
    metrics: NodeMetrics | None = None,
) -> None:
    """Pass after pass, starting one every ``settings.interval`` seconds; until cancelled."""
    while True:
        started = time.monotonic()
        try:
            report = await run_pass(stores(), settings, metrics=metrics)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audit pass failed")
        else:
            if metrics is not None:
                metrics.audit_passes.inc()
                metrics.audit_pass_seconds.set(report.seconds)
        await asyncio.sleep(max(0.0, settings.interval - (time.monotonic() - started)))


class _Pass:
    def __init__(
        self,
        settings: AuditorSettings,
        metrics: NodeMetrics | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.report = PassReport()
        self.files = Pacer(settings.files_per_second, clock=clock, sleep=sleep)
        self.bytes = Pacer(settings.bytes_per_second, clock=clock, sleep=sleep)
        self.started = self.last_log = clock()

    def maybe_log(self, where: str) -> None:
        if self.clock() - self.last_log >= self.settings.log_every:
            self.last_log = self.clock()
            log.info("audit in progress (%s): %s", where, self.report.counts())

    async def check(self, store: DiskBlobStore, hash_path: Path) -> None:
        report, metrics = self.report, self.metrics
        try:
            newest = await asyncio.to_thread(_newest, hash_path)
            if newest is None or newest.ext != DATA_EXT:
                return  # tombstones and emptied dirs carry no bytes to check
            await self.files.spend(1)
            verdict = await _check_data(hash_path, newest, self.bytes, metrics)
        except OSError as exc:
            report.errors += 1
            if metrics is not None:
                metrics.audit_errors.inc()
            log.warning("audit could not check %s: %s", hash_path, exc)
            return
        if verdict is None:
            return  # superseded while we looked: the newer write gets checked next pass
        report.files += 1
        report.bytes += verdict.size_read
        if metrics is not None:
            metrics.audit_files.inc()
        if verdict.problem is None:
            return
        moved = await asyncio.to_thread(store.quarantine, hash_path, only_if_newest=newest.filename)
        if moved is not None:
            report.quarantined.append(moved)
            if metrics is not None:
                metrics.audit_quarantined.inc()
            log.warning("quarantined %s (%s) to %s", hash_path, verdict.problem, moved)


def _newest(hash_path: Path) -> OnDiskFile | None:
    try:
        return newest_state(os.listdir(hash_path))
    except FileNotFoundError:
        return None


async def _check_data(
    hash_path: Path, newest: OnDiskFile, byte_pacer: Pacer, metrics: NodeMetrics | None
) -> _Verdict | None:
    """Compare the data with its sidecar; None when the file vanished (a newer write won)."""
    try:
        fd = await asyncio.to_thread(os.open, hash_path / newest.filename, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        sidecar = await asyncio.to_thread(_read_sidecar, hash_path / (newest.timestamp + META_EXT))
        if isinstance(sidecar, str):
            return _Verdict(0, sidecar)
        expected_size, expected_md5, blocks = sidecar
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        piece = blocks.block_size if blocks is not None else READ_CHUNK
        index = 0
        while True:
            chunk = await asyncio.to_thread(_read_piece, fd, piece, md5)
            if blocks is not None and size < expected_size:
                _offset, length = blocks.span(index, expected_size)
                try:
                    await asyncio.to_thread(blocks.check, index, chunk, length, newest.filename)
                except CorruptBlob as exc:
                    return _Verdict(size + len(chunk), str(exc))
            if not chunk:
                break
            index += 1
            size += len(chunk)
            if metrics is not None:
                metrics.audit_bytes.inc(len(chunk))
            await byte_pacer.spend(len(chunk))
    finally:
        os.close(fd)
    if size != expected_size:
        return _Verdict(size, f"size {size} != {expected_size} recorded")
    if md5.hexdigest() != expected_md5:
        return _Verdict(size, f"md5 {md5.hexdigest()} != {expected_md5} recorded")
    return _Verdict(size, None)


def _read_piece(fd: int, length: int, md5: hashlib._Hash) -> bytes:
    data = os.read(fd, length)
    md5.update(data)
    return data


def _read_sidecar(path: Path) -> tuple[int, str, BlockDigests | None] | str:
    """``(size, md5, blocks)`` recorded beside the data, or what is wrong with the sidecar."""
    try:
        doc = json.loads(path.read_bytes())
        return int(doc["size"]), str(doc["md5"]), BlockDigests.from_sidecar(doc)
    except FileNotFoundError:
        return "no .meta beside the .data"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable .meta: {exc!r}"
