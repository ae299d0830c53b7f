"""The S3 gateway: an aiohttp server that speaks S3 (and the admin API) over the storage below.

``server`` wires the stores (local disk, or rings of storage nodes) into ``context.Services``;
``app`` authenticates, routes and authorises each request and turns errors into S3 XML; the
handlers in ``handlers/`` do one S3 operation each. Every other module reaches storage only
through ``blobs.api`` and ``meta.services`` (an import contract in pyproject.toml).
"""
