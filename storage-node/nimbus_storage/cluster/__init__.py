"""The gateway's side of a storage cluster (Swift's proxy server): blobs placed by the ring on
storage nodes, written to a quorum, read from the first healthy replica.

``RingBlobStore`` implements the same ``BlobStore`` interface as the local disk store, so the
S3 gateway does not know whether it serves one directory or a cluster. The protocol is in
docs/storage-cluster.md.
"""
