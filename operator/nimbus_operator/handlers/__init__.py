"""kopf handlers: validate the body into a model, call one reconciler, publish status.

Importing this package registers every handler with kopf.
"""

from nimbus_operator.handlers import (
    bucket,
    bucketaccess,
    compute,
    objectstore,
    storagepolicy,
    store_secrets,
    virtualserver,
)

__all__ = [
    "bucket",
    "bucketaccess",
    "compute",
    "objectstore",
    "storagepolicy",
    "store_secrets",
    "virtualserver",
]
