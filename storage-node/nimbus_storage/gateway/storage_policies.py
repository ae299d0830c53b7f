"""Storage policies (Swift's): named blob stores a bucket's data can live in.

A gateway serves one or more policies, each a blob store of its own: the local disk store, a
ring of storage nodes keeping whole replicas, or a ring erasure-coding blobs K+M. Every policy
has its own ring file, as in Swift. A bucket picks its policy when it is created and keeps it;
its catalog row names it, "" meaning the gateway's default policy.

This module is pure: parsing ``--policy`` specs and resolving names. Opening the stores is the
server's job (server.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.blobs.api import BlobStore
from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import InvalidRequest, ServiceUnavailable

DEFAULT_POLICY = "default"
POLICY_HEADER = "x-nimbus-storage-policy"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_EC = re.compile(r"[0-9]+\+[0-9]+")


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One declared policy: ``kind`` "local" (a disk store under ``path``) or "ring" (the ring
    file at ``path``; ``ec`` "K+M" erasure-codes, "" keeps replicas)."""

    name: str
    kind: str
    path: Path
    ec: str = ""

    @classmethod
    def parse(cls, text: str) -> PolicySpec:
        """``NAME=ring.json``, ``NAME=ring.json:ec=4+2`` or ``NAME=local:/dir``."""
        name, sep, rest = text.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise ValueError(
                f"bad policy {text!r}: expected NAME=RING[:ec=K+M] or NAME=local:DIR, NAME of"
                " lowercase letters, digits, '.', '_' or '-'"
            )
        if rest.startswith("local:"):
            if not rest[len("local:") :]:
                raise ValueError(f"bad policy {text!r}: local: needs a directory")
            return cls(name, "local", Path(rest[len("local:") :]))
        ring, _, ec = rest.partition(":ec=")
        if not ring or (ec and not _EC.fullmatch(ec)) or rest.endswith(":ec="):
            raise ValueError(f"bad policy {text!r}: expected NAME=RING or NAME=RING:ec=K+M")
        return cls(name, "ring", Path(ring), ec)


class Policies:
    """The policies a gateway serves: name -> blob store, and which one is the default."""

    def __init__(self, stores: Mapping[str, BlobStore], default: str = DEFAULT_POLICY) -> None:
        if default not in stores:
            raise ValueError(
                f"default policy {default!r} is not declared (policies: {', '.join(stores)})"
            )
        self.stores = dict(stores)
        self.default = default

    @property
    def names(self) -> list[str]:
        return sorted(self.stores)

    def resolve(self, name: str) -> str:
        """The policy a new bucket asking for ``name`` gets ("" = the default); InvalidRequest
        naming the known policies when there is no such policy."""
        if not name:
            return self.default
        if name not in self.stores:
            raise InvalidRequest(
                f"Unknown storage policy {name!r}; this gateway serves: {', '.join(self.names)}"
            )
        return name

    def store(self, name: str) -> BlobStore:
        """The blob store of policy ``name`` ("" = the default)."""
        store = self.stores.get(name or self.default)
        if store is None:
            # The bucket's policy was dropped from the gateway's configuration: its data is
            # out of reach until the policy is declared again.
            raise ServiceUnavailable(
                f"The storage policy {name!r} of this bucket is not served by this gateway"
            )
        return store

    def for_bucket(self, bucket: Bucket) -> BlobStore:
        return self.store(bucket.storage_policy)
