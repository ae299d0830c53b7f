"""CDI's importer, for namespaces that boot guests: a DataVolume's source, really copied.

One background thread per import (the stand-in's single worker keeps reconciling meanwhile);
the DataVolume reconciler polls `Importer.job` and writes its progress as CDI does
(``status.progress`` ``"45.20%"``). What lands in the DataVolume's directory (see `guests`):

- ``http`` and ``s3``: the object, streamed to ``source.img``;
- ``pvc``: the source DataVolume's disk, flattened (``qemu-img convert``) into ``source.img``,
  so the clone stays whole when the source goes;
- ``blank``: no source;

then ``disk.qcow2``: a qcow2 overlay of the claim's size over ``source.img`` (or an empty
qcow2 for a blank disk). As CDI does, an image with a backing file is refused, and so is one
whose virtual size is larger than the claim. Formats are what ``qemu-img`` detects (raw,
qcow2, ...): a file that is no disk image imports as raw, and the guest finds out.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin import guests, sources
from e2e.kubevirt_standin.kube import Kube
from e2e.kubevirt_standin.objects import Obj, name_of, namespace_of, spec, uid_of
from e2e.nodeagent.downward import parse_quantity

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
LOG_EVERY_SECONDS = 10.0
QEMU_IMG_SECONDS = 600.0
"""A flattening clone of a few GiB on a busy machine."""
DEFAULT_CLAIM_SIZE = "1Gi"
ATTEMPTS = 3
RETRY_SECONDS = 2.0
"""Wait before attempt N+1: N times this."""
DOWNLOAD_TIMEOUT_SECONDS = 60.0
"""A socket read of the download may wait this long (a busy gateway); the source check's
5 s stays for the first byte."""


class ImportFailed(Exception):
    """The import failed; the message is for the DataVolume's Running condition."""


@dataclass
class ImportJob:
    """One DataVolume's import, as its thread moves it along."""

    directory: Path
    total: int | None = None
    copied: int = 0
    finished: bool = False
    error: str | None = None
    message: str = ""
    restarts: int = 0
    """Attempts that failed and were started again (CDI's restartCount)."""
    reported: float = 0.0
    """When the DataVolume's progress was last written (``time.monotonic()``)."""
    started: float = field(default_factory=time.monotonic)

    def progress(self) -> str:
        """CDI's ``status.progress``: a percentage with two decimals, or N/A."""
        if self.finished and self.error is None:
            return "100.0%"
        if not self.total:
            return "N/A"
        return f"{min(self.copied / self.total, 1.0) * 100:.2f}%"


class Importer:
    def __init__(
        self, kube: Kube, guests_: guests.Guests, find_dv: Callable[[str, str], Obj | None]
    ):
        self._kube = kube
        self._guests = guests_
        self._find_dv = find_dv
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()

    def job(self, dv: Obj) -> ImportJob:
        """The import of ``dv``, started on the first call."""
        with self._lock:
            job = self._jobs.get(uid_of(dv))
            if job is None:
                job = ImportJob(self._guests.datavolume_dir_of(dv))
                self._jobs[uid_of(dv)] = job
                threading.Thread(
                    target=self._run, args=(dv, job), name=f"import {name_of(dv)}", daemon=True
                ).start()
            return job

    def forget(self, dv: Obj) -> None:
        with self._lock:
            self._jobs.pop(uid_of(dv), None)

    def _run(self, dv: Obj, job: ImportJob) -> None:
        """Import, again after a failure (CDI restarts its importer pod), up to `ATTEMPTS`."""
        where = f"{namespace_of(dv)}/{name_of(dv)}"
        for attempt in range(1, ATTEMPTS + 1):
            job.copied, job.total, job.error = 0, None, None
            try:
                job.message = self._import(dv, job)
            except ImportFailed as error:
                job.error = str(error)
            except ApiException as error:
                job.error = f"the API server answered {error.status} {error.reason}"
            except Exception as error:  # a bug must fail this import, not the stand-in
                log.exception("datavolume %s: import failed", where)
                job.error = f"import failed: {error!r}"
            if job.error is None or attempt == ATTEMPTS:
                break
            job.restarts += 1
            log.info("datavolume %s: attempt %d failed (%s); again", where, attempt, job.error)
            time.sleep(RETRY_SECONDS * attempt)
        job.finished = True
        seconds = time.monotonic() - job.started
        if job.error:
            log.info("datavolume %s: import failed after %.1fs: %s", where, seconds, job.error)
        else:
            log.info("datavolume %s: imported in %.1fs: %s", where, seconds, job.message)

    def _import(self, dv: Obj, job: ImportJob) -> str:
        dv_spec = spec(dv)
        source = dv_spec.get("source") or {}
        storage = dv_spec.get("storage") or dv_spec.get("pvc") or {}
        size_text = str(
            ((storage.get("resources") or {}).get("requests") or {}).get("storage")
            or DEFAULT_CLAIM_SIZE
        )
        claim_bytes = int(parse_quantity(size_text))
        directory = job.directory
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        disk = guests.disk_of(directory)
        if "blank" in source:
            _qemu_img("create", "-q", "-f", "qcow2", str(disk), str(claim_bytes))
            return f"blank disk of {size_text}"
        target = guests.source_of(directory)
        partial = target.with_name(target.name + ".partial")
        namespace = namespace_of(dv)
        if "http" in source:
            what = self._download_http(namespace, source["http"], partial, job)
        elif "s3" in source:
            what = self._download_s3(namespace, source["s3"], partial, job)
        elif "pvc" in source:
            what = self._clone(source["pvc"], partial, job)
        else:
            raise ImportFailed(
                f"the stand-in importer does not support {next(iter(source), 'no')} sources"
            )
        partial.rename(target)
        info = _image_info(target)
        if info.get("backing-filename"):
            raise ImportFailed("the image has a backing file, which CDI refuses")
        if _data_file(info):
            raise ImportFailed("the image names an external data file, which is refused")
        virtual = int(str(info.get("virtual-size") or 0))
        if virtual > claim_bytes:
            raise ImportFailed(
                f"the image's virtual size ({virtual} bytes) is larger than the claim ({size_text})"
            )
        image_format = str(info.get("format") or "raw")
        _qemu_img(
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            str(target),
            "-F",
            image_format,
            str(disk),
            str(claim_bytes),
        )
        return f"{what}: {image_format}, virtual size {virtual} bytes, claim {size_text}"

    def _download_http(self, namespace: str, source: Obj, partial: Path, job: ImportJob) -> str:
        try:
            found = sources.http_target(self._kube, namespace, source)
        except sources.SourceError as error:
            raise ImportFailed(str(error)) from None
        found.connection.timeout = DOWNLOAD_TIMEOUT_SECONDS
        try:
            found.connection.request("GET", found.target, headers=found.headers)
            response = found.connection.getresponse()
            if not 200 <= response.status < 300:
                raise ImportFailed(f"{found.url}: HTTP {response.status} {response.reason}")
            length = response.getheader("Content-Length")
            job.total = int(length) if length else None
            _copy(response.read, partial, job, found.url)
        except (OSError, http.client.HTTPException) as error:
            raise ImportFailed(f"{found.url}: {error}") from None
        finally:
            found.connection.close()
        return f"downloaded {job.copied} bytes from {found.url.split('?')[0]}"

    def _download_s3(self, namespace: str, source: Obj, partial: Path, job: ImportJob) -> str:
        url = str(source.get("url", ""))
        try:
            with sources.s3_object(
                self._kube, namespace, source, read_timeout=DOWNLOAD_TIMEOUT_SECONDS
            ) as (s3, bucket, key):
                answer = s3.get_object(Bucket=bucket, Key=key)
                job.total = int(answer["ContentLength"])
                with contextlib.closing(answer["Body"]) as body:
                    _copy(body.read, partial, job, url)
        except sources.SourceError as error:
            raise ImportFailed(str(error)) from None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise ImportFailed(f"{url}: S3 GetObject failed: {code or error}") from None
        except (BotoCoreError, OSError) as error:
            raise ImportFailed(f"{url}: {error}") from None
        return f"downloaded {job.copied} bytes from {url}"

    def _clone(self, claim: Obj, partial: Path, job: ImportJob) -> str:
        namespace, name = str(claim.get("namespace", "")), str(claim.get("name", ""))
        source_dv = self._find_dv(namespace, name)
        if source_dv is None:
            raise ImportFailed(f"source PVC {namespace}/{name} has no DataVolume of the stand-in")
        source_disk = guests.disk_of(self._guests.datavolume_dir_of(source_dv))
        if not source_disk.exists():
            raise ImportFailed(f"source PVC {namespace}/{name} holds no imported disk yet")
        job.total = source_disk.stat().st_size
        _qemu_img("convert", "-O", "qcow2", str(source_disk), str(partial))
        job.copied = job.total
        return f"cloned from PVC {namespace}/{name}"


def _copy(read: Callable[[int], bytes], partial: Path, job: ImportJob, url: str) -> None:
    last_log = time.monotonic()
    with partial.open("wb") as output:
        while chunk := read(CHUNK_BYTES):
            output.write(chunk)
            job.copied += len(chunk)
            if time.monotonic() - last_log >= LOG_EVERY_SECONDS:
                last_log = time.monotonic()
                log.info(
                    "import %s: %d of %s bytes",
                    url.split("?", maxsplit=1)[0],
                    job.copied,
                    job.total,
                )
    if job.total is not None and job.copied != job.total:
        raise ImportFailed(f"{url}: the transfer ended after {job.copied} of {job.total} bytes")


def _qemu_img(*arguments: str) -> str:
    try:
        done = subprocess.run(
            ["qemu-img", *arguments],
            capture_output=True,
            text=True,
            timeout=QEMU_IMG_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ImportFailed(f"qemu-img {arguments[0]}: {error}") from None
    if done.returncode != 0:
        raise ImportFailed(f"qemu-img {arguments[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _data_file(info: dict[str, object]) -> str | None:
    """A qcow2's external data file (QEMU would open it with the image), if it names one."""
    specific = info.get("format-specific")
    data = specific.get("data") if isinstance(specific, dict) else None
    found = data.get("data-file") if isinstance(data, dict) else None
    return str(found) if found else None


def _image_info(path: Path) -> dict[str, object]:
    info = json.loads(_qemu_img("info", "--output=json", str(path)))
    return dict(info) if isinstance(info, dict) else {}
