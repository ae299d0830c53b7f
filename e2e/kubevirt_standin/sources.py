"""Can a DataVolume's source be read? The stand-in importer's only real work.

CDI's importer copies the image into the DataVolume's claim; the stand-in copies nothing but
checks, for real, that the source answers:

- ``http``: a GET of the first byte (``Range: bytes=0-0``), with the basic-auth Secret and CA
  ConfigMap CDI would use; 2xx means readable.
- ``s3``: CDI's path-style URL ``http(s)://<endpoint>/<bucket>/<key>`` and Secret keys
  ``accessKeyId`` / ``secretKey``; boto3's HeadObject with those credentials must answer with
  the object's size.
- ``blank``: always fine; ``pvc``: the source claim must exist.
- Anything else (registry, gcs, imageio, vddk, upload, snapshot, ``sourceRef``): not supported,
  the DataVolume fails with a message saying so.

Only loopback is reachable on this machine: a host must be a 127.0.0.0/8 address,
``localhost``, a Service ClusterIP or a Service name (``svc``, ``svc.ns``,
``svc.ns.svc[.cluster.local]``), the last two mapped to the address where the node agent
serves the Service. Any other host is reported unreachable without being tried.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from e2e.kubevirt_standin.kube import Kube
from e2e.kubevirt_standin.objects import IMPORT_RESULT_ANNOTATION, Obj, meta, namespace_of, spec
from e2e.nodeagent.network import service_local_address

TIMEOUT_SECONDS = 5.0
SERVICE_SUFFIXES = ((), ("svc",), ("svc", "cluster", "local"))


@dataclass(frozen=True)
class SourceCheck:
    readable: bool
    message: str


def check_source(kube: Kube, dv: Obj) -> SourceCheck:
    """Whether ``dv``'s source can be read, and a sentence saying what was found."""
    annotations = meta(dv).get("annotations") or {}
    if annotations.get(IMPORT_RESULT_ANNOTATION) == "fail":
        return SourceCheck(False, f"marked bad with {IMPORT_RESULT_ANNOTATION}=fail")
    dv_spec = spec(dv)
    source = dv_spec.get("source") or {}
    if not source:
        what = "sourceRef (DataSource)" if dv_spec.get("sourceRef") else "no source"
        return SourceCheck(False, f"the stand-in importer does not support {what}")
    kind = next(iter(source))
    namespace = namespace_of(dv)
    if kind == "blank":
        return SourceCheck(True, "blank image")
    if kind == "http":
        return _check_http(kube, namespace, source["http"])
    if kind == "s3":
        return _check_s3(kube, namespace, source["s3"])
    if kind == "pvc":
        claim = source["pvc"]
        found = kube.read(
            "persistentvolumeclaim", claim.get("namespace", ""), claim.get("name", "")
        )
        if found is None:
            return SourceCheck(
                False, f"source PVC {claim.get('namespace')}/{claim.get('name')} not found"
            )
        return SourceCheck(True, f"source PVC {claim.get('namespace')}/{claim.get('name')}")
    return SourceCheck(False, f"the stand-in importer does not support {kind} sources")


def local_address(kube: Kube, host: str, namespace: str) -> str | None:
    """Where ``host`` is reachable from this machine, or None when it is not (see module)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.is_loopback:
            return host
        return service_local_address(host)
    if host == "localhost":
        return "127.0.0.1"
    parts = host.split(".")
    if len(parts) == 1:
        service_name, service_namespace = parts[0], namespace
    elif len(parts) >= 2 and tuple(parts[2:]) in SERVICE_SUFFIXES:
        service_name, service_namespace = parts[0], parts[1]
    else:
        return None
    service = kube.read("service", service_namespace, service_name)
    if service is None:
        return None
    return service_local_address(spec(service).get("clusterIP"))


def _secret_pair(kube: Kube, namespace: str, name: str | None) -> tuple[str, str] | None:
    if not name:
        return None
    secret = kube.read("secret", namespace, name)
    if secret is None:
        raise LookupError(f"Secret {namespace}/{name} not found")
    data = secret.get("data") or {}
    try:
        return (
            base64.b64decode(data["accessKeyId"]).decode(),
            base64.b64decode(data["secretKey"]).decode(),
        )
    except KeyError as missing:
        raise LookupError(f"Secret {namespace}/{name} has no key {missing}") from None


def _ca_bundle(kube: Kube, namespace: str, config_map: str) -> str:
    """Every certificate in CDI's ``certConfigMap`` (any keys), as one PEM bundle."""
    found = kube.read("configmap", namespace, config_map)
    if found is None:
        raise LookupError(f"ConfigMap {namespace}/{config_map} not found")
    return "\n".join(str(pem) for pem in (found.get("data") or {}).values())


def _ssl_context(kube: Kube, namespace: str, config_map: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if config_map:
        context.load_verify_locations(cadata=_ca_bundle(kube, namespace, config_map))
    return context


@dataclass(frozen=True)
class HttpTarget:
    """Where an ``http`` source is read from this machine, and how."""

    url: str
    connection: http.client.HTTPConnection
    target: str
    headers: dict[str, str]


class SourceError(Exception):
    """The source cannot be read (the message says why, for the DataVolume's condition)."""


def http_target(kube: Kube, namespace: str, source: Obj) -> HttpTarget:
    """A connection (not yet open) to an ``http`` source, with CDI's credentials and CA."""
    url = str(source.get("url", ""))
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = local_address(kube, host, namespace)
    if parts.scheme not in ("http", "https") or address is None:
        raise SourceError(f"{url} is unreachable: only loopback addresses and Services are")
    try:
        credentials = _secret_pair(kube, namespace, source.get("secretRef"))
        headers = {"Host": parts.netloc.rpartition("@")[2], "User-Agent": "cdi-importer-standin"}
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            context = _ssl_context(kube, namespace, source.get("certConfigMap"))
            context.check_hostname = False  # we connect to the local address, not the name
            connection = http.client.HTTPSConnection(
                address, parts.port or 443, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            connection = http.client.HTTPConnection(
                address, parts.port or 80, timeout=TIMEOUT_SECONDS
            )
    except (OSError, LookupError, ssl.SSLError) as error:
        raise SourceError(f"{url}: {error}") from None
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return HttpTarget(url, connection, target, headers)


def _check_http(kube: Kube, namespace: str, source: Obj) -> SourceCheck:
    try:
        found = http_target(kube, namespace, source)
    except SourceError as error:
        return SourceCheck(False, str(error))
    url = found.url
    try:
        try:
            # CDI's importer GETs the file: a ranged GET reads one byte the same way (a HEAD
            # would be refused by a URL presigned for GET).
            found.connection.request(
                "GET", found.target, headers={**found.headers, "Range": "bytes=0-0"}
            )
            response = found.connection.getresponse()
            response.read()
        finally:
            found.connection.close()
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        return SourceCheck(False, f"{url}: {error}")
    if not 200 <= response.status < 300:
        return SourceCheck(False, f"{url}: HTTP {response.status} {response.reason}")
    size = (response.getheader("Content-Range") or "").rpartition("/")[2] or response.getheader(
        "Content-Length"
    )
    return SourceCheck(
        True, f"{url} answered HTTP {response.status}" + (f", {size} bytes" if size else "")
    )


@contextlib.contextmanager
def s3_object(
    kube: Kube, namespace: str, source: Obj, *, read_timeout: float = TIMEOUT_SECONDS
) -> Iterator[tuple[Any, str, str]]:
    """(a boto3 client, bucket, key) for an ``s3`` source, as CDI's importer reads it: the
    path-style URL ``http(s)://<endpoint>/<bucket>/<key>``, the Secret's keys, the CA."""
    url = str(source.get("url", ""))
    parts = urlsplit(url)
    host = parts.hostname or ""
    bucket, _, key = parts.path.strip("/").partition("/")
    address = local_address(kube, host, namespace)
    if parts.scheme not in ("http", "https") or address is None:
        raise SourceError(f"{url} is unreachable: only loopback addresses and Services are")
    if not bucket or not key:
        raise SourceError(f"{url} names no bucket and key (http(s)://host/bucket/key)")
    try:
        credentials = _secret_pair(kube, namespace, source.get("secretRef"))
        bundle = None
        if parts.scheme == "https" and source.get("certConfigMap"):
            bundle = _ca_bundle(kube, namespace, str(source["certConfigMap"]))
    except LookupError as error:
        raise SourceError(str(error)) from None
    port = f":{parts.port}" if parts.port else ""
    with contextlib.ExitStack() as stack:
        verify: str | None = None
        if bundle is not None:
            handle = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".pem"))
            handle.write(bundle)
            handle.flush()
            verify = handle.name
        s3 = boto3.client(
            "s3",
            endpoint_url=f"{parts.scheme}://{address}{port}",
            # CDI takes the region from the endpoint's first label; Nimbus accepts any region.
            region_name=host.split(".")[0] or "us-east-1",
            aws_access_key_id=credentials[0] if credentials else None,
            aws_secret_access_key=credentials[1] if credentials else None,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4" if credentials else UNSIGNED,
                connect_timeout=TIMEOUT_SECONDS,
                read_timeout=read_timeout,
                retries={"max_attempts": 1},
            ),
            verify=verify,
        )
        yield s3, bucket, key


def _check_s3(kube: Kube, namespace: str, source: Obj) -> SourceCheck:
    url = str(source.get("url", ""))
    try:
        with s3_object(kube, namespace, source) as (s3, bucket, key):
            head = s3.head_object(Bucket=bucket, Key=key)
    except SourceError as error:
        return SourceCheck(False, str(error))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return SourceCheck(False, f"{url}: S3 HeadObject failed: {code or error}")
    except BotoCoreError as error:
        return SourceCheck(False, f"{url}: {error}")
    return SourceCheck(True, f"{url}: s3://{bucket}/{key} is {head['ContentLength']} bytes")
