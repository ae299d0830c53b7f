"""Reconcile one BucketAccess: one access key, granted each claimed bucket with its mode, and a
Secret per claim for apps to ``envFrom``.

Order (each step idempotent): plan the keys (rotation); revoke previous keys whose time is up
(before anything can fail: a Bucket gone must not prolong them); resolve the claims (Buckets
Ready); reuse the wanted key's secret from a Secret that has it, or generate one; write the
key to every store it reaches (before any Secret names it); write the Secrets; revoke what is
no longer wanted (a key replaced with no grace period, keys in stores no claim reaches any
more); delete Secrets of claims that went away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.models.bucketaccess import ROTATE_ANNOTATION, BucketAccess
from nimbus_operator.reconcilers.bucket.credentials import ensure_credential, new_secret_key
from nimbus_operator.reconcilers.bucket.owned import (
    apply_if_changed,
    delete_owned,
    read_owned,
    secret_strings,
)
from nimbus_operator.reconcilers.bucket.report import Connect, Event, Report, connect
from nimbus_operator.reconcilers.bucketaccess.claims import (
    ResolvedClaim,
    grants_by_store,
    resolve_claims,
)
from nimbus_operator.reconcilers.bucketaccess.revocation import recorded_stores, revoke
from nimbus_operator.reconcilers.bucketaccess.rotation import KeyPlan, plan_keys, rotation_request
from nimbus_operator.render.bucket_keys import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
from nimbus_operator.render.bucket_names import bucket_access_key
from nimbus_operator.render.bucket_objects import Owner, build_credential_secret


def wanted_key(body: dict[str, Any]) -> str:
    """The access key a BucketAccess body asks for (from its raw body: deletion needs it even
    when the spec no longer parses)."""
    requested = ((body.get("spec") or {}).get("rotation") or {}).get("requestedAt")
    annotation = (body["metadata"].get("annotations") or {}).get(ROTATE_ANNOTATION)
    return bucket_access_key(str(body["metadata"]["uid"]), rotation_request(requested, annotation))


def _read_secrets(
    kube: Kube, owner: Owner, claims: list[ResolvedClaim]
) -> dict[str, dict[str, Any] | None]:
    """Each claim's Secret as it is (None when absent), refusing Secrets of others."""
    return {
        claim.claim.access_secret_name: read_owned(
            kube,
            "Secret",
            claim.claim.access_secret_name,
            owner.namespace,
            owner_uid=owner.uid,
            field=claim.secret_field,
        )
        for claim in claims
    }


def _secret_key_of(secrets: dict[str, dict[str, Any] | None], key: str) -> str | None:
    """The secret of access key ``key`` from any Secret that holds it."""
    for secret in secrets.values():
        data = secret_strings(secret)
        if data.get(AWS_ACCESS_KEY_ID) == key and data.get(AWS_SECRET_ACCESS_KEY):
            return data[AWS_SECRET_ACCESS_KEY]
    return None


def reconcile_access(
    kube: Kube, body: dict[str, Any], connect: Connect = connect, now: datetime | None = None
) -> Report:
    access = BucketAccess.from_body(body)
    grace = access.spec.rotation.grace_period_delta
    previous = body.get("status") or {}
    owner = Owner(
        "BucketAccess",
        access.metadata.name,
        str(access.metadata.namespace),
        str(access.metadata.uid),
    )
    plan = plan_keys(previous, wanted_key(body), grace, now or datetime.now(UTC))
    overdue = set(plan.revoke) - {previous.get("accessKeyId")}
    for ref in sorted(recorded_stores(previous)) if overdue else ():
        revoke(kube, owner.namespace, ref, overdue, connect)
    claims = resolve_claims(kube, access)
    found = _read_secrets(kube, owner, claims)
    secret_key = _secret_key_of(found, plan.access_key)
    fresh = secret_key is None
    secret_key = secret_key or new_secret_key()
    description = f"BucketAccess {owner.namespace}/{owner.name}"
    for store, grants in grants_by_store(claims).values():
        ensure_credential(
            connect(store).admin,
            plan.access_key,
            secret_key,
            grants=grants,
            description=description,
            fresh=fresh,
        )
    for claim in claims:
        name = claim.claim.access_secret_name
        location = claim.store.location(claim.bucket_name)
        manifest = build_credential_secret(
            owner, name, location, plan.access_key, secret_key, component="bucket-access"
        )
        apply_if_changed(kube, manifest, found[name])
    _clean_up(
        kube, owner, previous=previous, claims=claims, plan=plan, connect=connect, done=overdue
    )
    return _report(claims, plan, first=previous.get("accessKeyId") is None)


def _clean_up(
    kube: Kube,
    owner: Owner,
    *,
    previous: dict[str, Any],
    claims: list[ResolvedClaim],
    plan: KeyPlan,
    connect: Connect,
    done: set[str],
) -> None:
    """Revoke what is no longer wanted (``done``: revoked already from the recorded stores)."""
    current_stores = {claim.store.ref for claim in claims}
    recorded = recorded_stores(previous)
    every_key = {plan.access_key, plan.previous_key, *plan.revoke, previous.get("accessKeyId")}
    for ref in sorted(recorded - current_stores):
        revoke(kube, owner.namespace, ref, every_key - {None}, connect)
    for ref in sorted(current_stores):
        keys = set(plan.revoke) - done if ref in recorded else set(plan.revoke)
        if keys:
            revoke(kube, owner.namespace, ref, keys, connect)
    wanted_secrets = {claim.claim.access_secret_name for claim in claims}
    for item in previous.get("accessedBuckets") or []:
        name = item.get("accessSecretName")
        if name and name not in wanted_secrets:
            delete_owned(kube, "Secret", name, owner.namespace, owner.uid)


def _report(claims: list[ResolvedClaim], plan: KeyPlan, *, first: bool) -> Report:
    accessed = [
        {
            "bucketClaimName": claim.claim.bucket_claim_name,
            "bucketName": claim.bucket_name,
            "accessSecretName": claim.claim.access_secret_name,
            "accessMode": str(claim.claim.access_mode),
            "store": claim.store.ref,
        }
        for claim in claims
    ]
    fields = {
        "readyToUse": True,
        "error": None,
        "accessedBuckets": accessed,
        "accessKeyId": plan.access_key,
        "lastRotationTime": plan.issued_at,
        "previousAccessKeyId": plan.previous_key,
        "previousKeyExpiresAt": plan.previous_expires_at,
    }
    reach = ", ".join(f"{c.bucket_name} ({c.claim.access_mode})" for c in claims)
    secrets = ", ".join(c.claim.access_secret_name for c in claims)
    message = f"Access key {plan.access_key} reaches {reach}; apps envFrom Secret {secrets}."
    if plan.previous_key:
        message += f" The previous key {plan.previous_key} works until {plan.previous_expires_at}."
    conditions = [
        ("Ready", True, "CredentialsReady", message),
        ("Progressing", False, "Converged", "Nothing left to do."),
    ]
    return Report("Ready", fields, conditions, _events(plan, first=first))


def _events(plan: KeyPlan, *, first: bool) -> list[Event]:
    events: list[Event] = []
    if first:
        events.append(("Normal", "AccessKeyIssued", f"Access key {plan.access_key} issued"))
    if plan.replaced:
        until = f" until {plan.previous_expires_at}" if plan.previous_key else " (revoked now)"
        events.append(
            (
                "Normal",
                "AccessKeyRotated",
                f"Access key {plan.access_key} replaces {plan.replaced}, which works{until}",
            )
        )
    for key in plan.revoke:
        if key != plan.replaced:
            events.append(("Normal", "PreviousKeyRevoked", f"Access key {key} revoked"))
    return events
