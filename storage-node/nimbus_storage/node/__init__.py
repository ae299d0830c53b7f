"""The storage node: one process serving the ring's devices of one host over HTTP.

``server`` answers the node protocol of docs/storage-cluster.md (object PUT/GET/HEAD/DELETE,
suffix hashes and listings for replicators) on top of one ``DiskBlobStore`` per device;
``auditor`` re-reads every blob in the background and quarantines the ones that rotted;
``replicator`` pushes each partition to the primaries that lack something and empties handoffs.
"""
