"""kopf handlers: validate the body into a model, call one reconciler, publish status.

Importing this package registers every handler with kopf.
"""

from nimbus_operator.handlers import bucket, bucketaccess, objectstore, storagepolicy

__all__ = ["bucket", "bucketaccess", "objectstore", "storagepolicy"]
