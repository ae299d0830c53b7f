"""Reads and writes placed by the ring on storage nodes (Swift's proxy server): whole replicas
written to a quorum (``ring_blobs``), erasure-coded fragment archives (``ec_blobs``,
``ec_layout``, ``ec_fragments``), and the catalog and bucket indexes kept as database replicas
on the nodes (``db_replicas``, ``ring_catalog``, ``ring_index``).

``RingBlobStore`` implements the same ``BlobStore`` interface as the local disk store, so the
S3 gateway does not know whether it serves one directory or a cluster. The node's own
reconstructor uses the erasure-coding half to rebuild lost fragments. The wire protocol is in
``nimbus_storage.protocol`` and docs/storage-cluster.md.
"""
