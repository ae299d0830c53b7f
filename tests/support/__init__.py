"""Support code the test tiers and benchmarks share: a storage cluster on loopback
(``storage_cluster``, ``python -m tests.support.storage_cluster up|down``), a fault proxy for
network partitions (``faultproxy``), reader/writer load (``load``), polling with deadlines
(``waiting``) and golden files (``golden``)."""
