"""Every S3 operation Nimbus answers, each an ``S3Operation`` naming its handler (see
gateway/operation.py).

To add an operation: write its handler (``async def name(request: S3Request) ->
web.StreamResponse`` in a gateway/handlers module) and add its entry to the module of its
resource here. Order matters only among the sub-resources (and the parameters) of one scope:
when a request names two, the first in this table claims it.
"""

from __future__ import annotations

from nimbus_storage.gateway.operation import S3Operation
from nimbus_storage.gateway.operations import bucket_config, buckets, objects

OPERATIONS: tuple[S3Operation, ...] = (
    *bucket_config.OPERATIONS,
    *buckets.OPERATIONS,
    *objects.OPERATIONS,
)
