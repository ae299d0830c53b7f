"""How a name becomes a partition: shared by the ring and the disk layout (``blobs/layout.py``).

``md5(hash_prefix + name + hash_suffix)`` as hex; the partition is the top ``part_power`` bits of
its first 32 bits. The random prefix and suffix keep clients from choosing names that pile up in
one partition; they are fixed for the life of a cluster.
"""

from __future__ import annotations

import hashlib
import secrets

MAX_PART_POWER = 24


def name_hash(hash_prefix: str, hash_suffix: str, name: str) -> str:
    salted = f"{hash_prefix}{name}{hash_suffix}".encode("utf-8", "surrogatepass")
    return hashlib.md5(salted, usedforsecurity=False).hexdigest()


def partition_of(hex_hash: str, part_power: int) -> int:
    return int(hex_hash[:8], 16) >> (32 - part_power)


def random_salt() -> str:
    """A fresh hash prefix or suffix (the same form the disk store generates)."""
    return secrets.token_hex(8)
