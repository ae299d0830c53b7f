"""Authentication and body integrity for the S3 gateway (pure code, no I/O of its own).

How the gateway is meant to use it, per request::

    ctx = sigv4.authenticate(method, raw_path, raw_query, headers, lookup_secret)
    # ctx is None for anonymous requests; errors are S3Error subclasses.
    payload_hash = ctx.payload_hash if ctx else headers.get("x-amz-content-sha256", "")
    body = request.content  # aiohttp StreamReader
    if payload_hash in sigv4.STREAMING_PAYLOADS:
        decoder = chunked.AwsChunkedDecoder(
            body, ctx, payload_hash, headers.get("x-amz-trailer"),
            decoded_length=<int(x-amz-decoded-content-length) or None>,
        )
        body = decoder  # decoder.checksum_b64 / .trailers after the body is consumed
    verifier = checksums.PayloadVerifier.from_headers(body, headers, payload_hash=payload_hash)
    info = await store.put(name, aiter(verifier), ...)  # verifier.md5_hex -> ETag

Modules: ``sigv4`` (signature checks), ``credentials`` (parsing the auth parameters),
``canonical`` (canonical request pieces), ``chunked`` (aws-chunked bodies), ``checksums``
(CRC32/CRC32C/CRC64NVME/SHA1/SHA256 and PayloadVerifier), ``crc64nvme``, ``streams``.
"""
