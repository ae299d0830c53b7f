"""The documents a bucket is configured with, parsed and evaluated as S3 defines them: ACLs,
bucket policies (with their condition operators and wildcards, and whether one is public),
Block Public Access, Object Ownership, CORS, default encryption, lifecycle rules, tags and
versioning. Pure code: the gateway stores the documents and asks these modules what they mean.

Not to be confused with *storage policies* (``gateway.storage_policies``): which blob store
(local, replicated ring, erasure-coded ring) a bucket's data lives in.
"""
