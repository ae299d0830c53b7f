"""Object deletes: DeleteObject and DeleteObjects (batch), versioning-aware."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from xml.etree import ElementTree

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.conditional_writes import conditional_delete
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.object_lock import bucket_lock, deletion_check
from nimbus_storage.gateway.objects import DeleteOutcome
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.s3errors import MalformedXML, S3Error
from nimbus_storage.storage_errors import StorageError

MAX_DELETE_KEYS = 1000
MAX_DELETE_BODY = 2 * 1024 * 1024


def _outcome_headers(outcome: DeleteOutcome) -> dict[str, str]:
    headers: dict[str, str] = {}
    if outcome.version_id is not None:
        headers["x-amz-version-id"] = outcome.version_id
    if outcome.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    return headers


async def delete_object_handler(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    version_id = request.query.get("versionId")
    locked = version_id is not None and await bucket_lock(request.services, bucket) is not None
    check = await deletion_check(request, bucket, request.key, version_id, locked=locked)
    outcome = await conditional_delete(
        request, bucket, request.key, version_id, request.headers, check=check
    )
    return empty_response(204, headers=_outcome_headers(outcome))


@dataclass(frozen=True, slots=True)
class DeleteTarget:
    key: str
    version_id: str | None
    # The object's own conditions, as DeleteObject's header names (conditional.py).
    conditions: dict[str, str]


def _conditions(element: ElementTree.Element) -> dict[str, str]:
    """``<ETag>``, ``<LastModifiedTime>`` and ``<Size>`` of one ``<Object>``: the conditions
    DeleteObject takes as headers."""
    conditions: dict[str, str] = {}
    etag = s3xml.token(element, "ETag")
    if etag is not None:
        conditions["if-match"] = etag
    modified = s3xml.token(element, "LastModifiedTime")
    if modified is not None:
        conditions["x-amz-if-match-last-modified-time"] = _http_date(modified)
    size = s3xml.token(element, "Size")
    if size is not None:
        conditions["x-amz-if-match-size"] = size
    return conditions


def _http_date(text: str) -> str:
    """A ``<LastModifiedTime>`` (ISO 8601, or the HTTP date botocore writes) as an HTTP date."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise MalformedXML(f"<LastModifiedTime> {text!r} is not a timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_delete_request(body: bytes) -> tuple[bool, list[DeleteTarget]]:
    document = s3xml.parse(body, root="Delete", max_size=MAX_DELETE_BODY)
    quiet = (s3xml.token(document, "Quiet") or "false").lower() == "true"
    targets: list[DeleteTarget] = []
    for element in document.findall("Object"):
        key = s3xml.text(element, "Key")  # exact: <Key> a </Key> names the key " a "
        if not key:
            raise MalformedXML("Each <Object> needs a non-empty <Key>")
        targets.append(DeleteTarget(key, s3xml.text(element, "VersionId"), _conditions(element)))
    if not targets or len(targets) > MAX_DELETE_KEYS:
        raise MalformedXML(f"A Delete request names between 1 and {MAX_DELETE_KEYS} objects")
    return quiet, targets


async def delete_objects(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    quiet, targets = _parse_delete_request(await read_small_body(request, MAX_DELETE_BODY))
    named = any(target.version_id is not None for target in targets)
    locked = named and await bucket_lock(request.services, bucket) is not None
    deleted: list[dict[str, s3xml.XmlValue]] = []
    errors: list[dict[str, s3xml.XmlValue]] = []
    for target in targets:
        key, version_id = target.key, target.version_id
        try:
            action = request.operation.required_handler_action(version_id)
            await check_access(request, bucket, action, key)
            check = await deletion_check(request, bucket, key, version_id, locked=locked)
            outcome = await conditional_delete(
                request, bucket, key, version_id, target.conditions, check=check
            )
        except (S3Error, StorageError) as caught:
            error = caught if isinstance(caught, S3Error) else to_s3(caught)
            errors.append(
                {"Key": key, "VersionId": version_id, "Code": error.code, "Message": error.message}
            )
            continue
        if quiet:
            continue
        entry: dict[str, s3xml.XmlValue] = {"Key": key, "VersionId": version_id}
        if outcome.delete_marker:
            entry["DeleteMarker"] = True
            entry["DeleteMarkerVersionId"] = outcome.version_id
        deleted.append(entry)
    return xml_response("DeleteResult", {"Deleted": deleted, "Error": errors})
