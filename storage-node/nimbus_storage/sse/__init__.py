"""Server-side encryption (SSE-C, SSE-S3, SSE-KMS) for objects at rest: pure, no HTTP.

* ``segments``: the segmented AES-256-GCM format of an encrypted blob's bytes (streaming
  encryption, size arithmetic, range mapping, streaming decryption of a range);
* ``keys``: per-object data keys, how they are wrapped (bound to the object they belong to),
  and the SSE-C customer key (request headers, salted verifier);
* ``keystore``: the local key store of SSE-S3 and SSE-KMS master keys (file or mounted
  Kubernetes Secret, versions for rotation, reload); ``python -m nimbus_storage.sse.keystore``
  generates and rotates key files;
* ``envelope``: what is stored beside an encrypted object, the SSE request headers of a write,
  the response headers and the ETag AWS gives;
* ``errors``: every error of this package, each to be answered as one AWS error.

The design, the stored metadata and the key file format are in ``docs/encryption.md``.

This package imports nothing of ``nimbus_storage`` but ``storage_errors``; its modules are not
re-exported here, so that ``python -m nimbus_storage.sse.keystore`` runs the module only once.
"""
