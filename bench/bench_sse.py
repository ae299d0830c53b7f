"""Server-side encryption benchmark: the segmented AES-256-GCM stream against a plain copy.

    python -m bench.bench_sse [--sizes 1MiB,64MiB] [--chunk 64KiB] [--segment 64KiB]
                              [--repeat 5] [--ranges 2000]

For each size, streams an object held in memory (so only the CPU cost is measured, no disk,
no network) through:

* a plain copy: the async pass-through an unencrypted GET or PUT does (each chunk copied once),
  and the same with an MD5 of the bytes (what a PUT computes for its ETag anyway);
* ``SegmentEncryptor.encrypt`` (PUT) and ``decrypt_range`` over the whole object (GET),

in ``--chunk`` sized chunks, and prints MB/s (10^6 bytes of plaintext per second; best of
``--repeat``). Then the cost of a 1 KiB range read from the largest object: random 1 KiB
ranges, how many segments and ciphertext bytes each touches, and its mean time against a
whole-object decryption. A benchmark, not a test: it prints figures, never fails on them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import re
import statistics
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from nimbus_storage.sse.keys import new_data_key
from nimbus_storage.sse.segments import (
    SegmentEncryptor,
    decrypt_range,
    full_range,
    map_range,
)

UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)(KiB|MiB|GiB)?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(match.group(1)) * UNITS.get(match.group(2) or "", 1)


def human(size: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]} {unit}"
    return f"{size} B"


async def chunks_of(data: bytes, chunk: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        yield bytes(view[start : start + chunk])  # a fresh chunk, as a socket read gives


async def drain(stream: AsyncIterable[bytes]) -> int:
    total = 0
    async for chunk in stream:
        total += len(chunk)
    return total


async def plain_copy(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for chunk in source:
        yield bytes(bytearray(chunk))


async def plain_copy_md5(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    md5 = hashlib.md5(usedforsecurity=False)
    async for chunk in source:
        md5.update(chunk)
        yield bytes(bytearray(chunk))
    md5.hexdigest()


async def best_of(repeat: int, run: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return min(times)


def rate(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e6:9.1f} MB/s"


async def bench_size(size: int, args: argparse.Namespace) -> tuple[bytes, bytes, bytes, bytes]:
    data = random.Random(size).randbytes(size)
    data_key = new_data_key()
    segment = args.segment
    prefix: bytes = b""
    cipher = b""

    async def encrypt() -> None:
        nonlocal prefix, cipher
        encryptor = SegmentEncryptor(data_key, segment)
        parts = [part async for part in encryptor.encrypt(chunks_of(data, args.chunk))]
        prefix, cipher = encryptor.nonce_prefix, b"".join(parts)

    async def encrypt_only() -> None:
        await drain(SegmentEncryptor(data_key, segment).encrypt(chunks_of(data, args.chunk)))

    await encrypt()
    plan = full_range(size, segment)

    async def decrypt() -> None:
        got = await drain(decrypt_range(chunks_of(cipher, args.chunk), data_key, prefix, plan))
        assert got == size

    async def copy() -> None:
        await drain(plain_copy(chunks_of(data, args.chunk)))

    async def copy_md5() -> None:
        await drain(plain_copy_md5(chunks_of(data, args.chunk)))

    async def source_only() -> None:
        await drain(chunks_of(data, args.chunk))

    rows = [
        ("source alone (chunking)", await best_of(args.repeat, source_only)),
        ("plain copy", await best_of(args.repeat, copy)),
        ("plain copy + MD5", await best_of(args.repeat, copy_md5)),
        ("encrypt (PUT)", await best_of(args.repeat, encrypt_only)),
        ("decrypt whole (GET)", await best_of(args.repeat, decrypt)),
    ]
    print(f"\n{human(size)} object, {human(args.chunk)} chunks, {human(segment)} segments:")
    for name, seconds in rows:
        print(f"  {name:<26} {rate(size, seconds)}   ({seconds * 1e3:8.2f} ms)")
    overhead = len(cipher) - size
    print(f"  ciphertext overhead        {overhead} bytes ({overhead / size * 100:.3f} %)")
    return data, cipher, prefix, data_key


async def bench_ranges(
    data: bytes, cipher: bytes, prefix: bytes, data_key: bytes, args: argparse.Namespace
) -> None:
    size, segment = len(data), args.segment
    rng = random.Random(0)
    length = 1024
    starts = [rng.randrange(0, size - length) for _ in range(args.ranges)]
    touched: list[int] = []
    read: list[int] = []
    times: list[float] = []
    for start in starts:
        end = start + length - 1
        begun = time.perf_counter()
        plan = map_range(start, end, size, segment)
        window = cipher[plan.cipher_start : plan.cipher_end + 1]
        out = b"".join(
            [
                part
                async for part in decrypt_range(
                    chunks_of(window, args.chunk), data_key, prefix, plan
                )
            ]
        )
        times.append(time.perf_counter() - begun)
        assert out == data[start : end + 1]
        touched.append(plan.segments)
        read.append(plan.cipher_length)
    whole = full_range(size, segment)

    async def decrypt_whole() -> None:
        await drain(decrypt_range(chunks_of(cipher, args.chunk), data_key, prefix, whole))

    whole_time = await best_of(args.repeat, decrypt_whole)
    mean = statistics.fmean(times)
    two = sum(1 for t in touched if t == 2)
    print(f"\n1 KiB range reads from the {human(size)} object ({len(starts)} random ranges):")
    print(
        f"  segments touched           1 in {len(touched) - two}, 2 in {two} (of"
        f" {whole.segments} in the object)"
    )
    print(
        f"  ciphertext read            {min(read)}..{max(read)} bytes"
        f" (mean {statistics.fmean(read):.0f}; the object is {len(cipher)})"
    )
    print(
        f"  time per range read        mean {mean * 1e6:.1f} us,"
        f" p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:.1f} us"
        f" (whole object {whole_time * 1e3:.1f} ms: {whole_time / mean:.0f}x)"
    )


async def run(args: argparse.Namespace) -> None:
    print(f"segmented AES-256-GCM (cryptography), CPU count {os.cpu_count()}")
    last: tuple[bytes, bytes, bytes, bytes] | None = None
    for size in args.sizes:
        last = await bench_size(size, args)
    if last is not None:
        await bench_ranges(*last, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_sse", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[UNITS["MiB"], 64 * UNITS["MiB"]],
    )
    parser.add_argument("--chunk", type=parse_size, default=64 * 1024)
    parser.add_argument("--segment", type=parse_size, default=64 * 1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ranges", type=int, default=2000)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
