"""Metadata: the catalog (buckets, credentials; Swift's account database) and one listing index
per bucket (object versions, multipart uploads; Swift's container database), each a SQLite
database whose rows merge by timestamp so replicas converge.

``api`` holds the records (``Bucket``, ``ObjectVersion`` ...); ``services`` the interface the
gateway uses; ``local_services`` serves it from local databases; ``catalog`` and ``index`` are
the databases, ``rows`` their typed rows, ``replicated_db`` what replication of a database needs.
"""
