"""Blob storage: opaque named blobs on one device, in Swift's on-disk layout.

``api`` is the interface everything above is written against (``BlobStore``, ``BlobInfo``);
``diskfile`` the disk implementation (atomic writes, last writer wins by timestamp, tombstones);
``layout`` and ``suffixes`` where a name's files live; ``blocks`` and ``reader`` the per-block
digests and verified reads; ``memory`` an in-memory ``BlobStore`` for tests.
"""
