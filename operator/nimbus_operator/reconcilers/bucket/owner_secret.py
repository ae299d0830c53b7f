"""The owner Secret a Bucket writes when spec.ownerSecret asks for one.

It carries the bucket's owner key (derived from the namespace and S3 name: see
`render.bucket_names`), made a credential in the store only while a Secret asks for it. Taking
spec.ownerSecret away deletes the Secret and revokes the key; renaming it moves the Secret.
"""

from __future__ import annotations

from nimbus_operator.clients.admin import AdminClient
from nimbus_operator.clients.kube import Kube
from nimbus_operator.models.bucket import Bucket
from nimbus_operator.reconcilers.bucket.credentials import ensure_credential, new_secret_key
from nimbus_operator.reconcilers.bucket.owned import (
    apply_if_changed,
    delete_owned,
    read_owned,
    secret_strings,
)
from nimbus_operator.reconcilers.bucket.report import Event
from nimbus_operator.render.bucket_keys import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    BucketLocation,
)
from nimbus_operator.render.bucket_objects import Owner, build_credential_secret

FIELD = "spec.ownerSecret.name"


def sync_owner_secret(
    kube: Kube,
    admin: AdminClient,
    bucket: Bucket,
    *,
    owner: Owner,
    location: BucketLocation,
    owner_key: str,
    previous_name: str | None,
) -> tuple[str | None, list[Event]]:
    """The owner Secret's name (None when not asked for) and the Events of what changed."""
    wanted = bucket.owner_secret_name
    events: list[Event] = []
    if previous_name and previous_name != wanted:
        delete_owned(kube, "Secret", previous_name, owner.namespace, owner.uid)
    if wanted is None:
        if previous_name:
            admin.delete_credential(owner_key)
            events.append(
                (
                    "Normal",
                    "OwnerSecretRemoved",
                    f"Owner Secret {previous_name} deleted and its key {owner_key} revoked",
                )
            )
        return None, events
    found = read_owned(kube, "Secret", wanted, owner.namespace, owner_uid=owner.uid, field=FIELD)
    data = secret_strings(found)
    secret_key = (
        data.get(AWS_SECRET_ACCESS_KEY) if data.get(AWS_ACCESS_KEY_ID) == owner_key else None
    )
    fresh = not secret_key
    secret_key = secret_key or new_secret_key()
    # The store first: a Secret is never handed out before its key works.
    ensure_credential(
        admin,
        owner_key,
        secret_key,
        grants={},
        description=f"owner of bucket {location.bucket_name} (Buckets of {owner.namespace})",
        fresh=fresh,
    )
    manifest = build_credential_secret(
        owner, wanted, location, owner_key, secret_key, component="bucket-owner"
    )
    apply_if_changed(kube, manifest, found)
    if fresh:
        events.append(
            ("Normal", "OwnerSecretWritten", f"Owner Secret {wanted} holds key {owner_key}")
        )
    return wanted, events
