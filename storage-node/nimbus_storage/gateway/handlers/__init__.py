"""S3 operation handlers, one function per AWS operation, grouped by resource.

A handler is ``async def name(request: S3Request) -> web.StreamResponse``; the operation table
(gateway/operations/) names each one, with its route and its authorization.
"""
