"""Object deletes: DeleteObject and DeleteObjects (batch), versioning-aware."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.objects import DeleteOutcome, delete_object
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
    outcome = await delete_object(
        request.services, bucket, request.key, request.query.get("versionId")
    )
    return empty_response(204, headers=_outcome_headers(outcome))


def _parse_delete_request(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    document = s3xml.parse(body, root="Delete", max_size=MAX_DELETE_BODY)
    quiet = (s3xml.token(document, "Quiet") or "false").lower() == "true"
    targets: list[tuple[str, str | None]] = []
    for element in document.findall("Object"):
        key = s3xml.text(element, "Key")  # exact: <Key> a </Key> names the key " a "
        if not key:
            raise MalformedXML("Each <Object> needs a non-empty <Key>")
        targets.append((key, s3xml.text(element, "VersionId")))
    if not targets or len(targets) > MAX_DELETE_KEYS:
        raise MalformedXML(f"A Delete request names between 1 and {MAX_DELETE_KEYS} objects")
    return quiet, targets


async def delete_objects(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    quiet, targets = _parse_delete_request(await read_small_body(request, MAX_DELETE_BODY))
    deleted: list[dict[str, s3xml.XmlValue]] = []
    errors: list[dict[str, s3xml.XmlValue]] = []
    for key, version_id in targets:
        try:
            action = request.operation.required_handler_action(version_id)
            await check_access(request, bucket, action, key)
            outcome = await delete_object(request.services, bucket, key, version_id)
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
