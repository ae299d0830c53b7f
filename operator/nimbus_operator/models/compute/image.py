"""Image: a boot image (as in Glance): a containerDisk, an HTTP file or an object in a Bucket."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from nimbus_operator.constants import COMPUTE_GROUP
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import COMPUTE_CATEGORIES
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    AnyRule,
    Boolean,
    Choice,
    Integer,
    Object,
    Quantity,
    Rule,
    SpecModel,
    StatusModel,
    String,
    model,
    prop,
)

MAX_KEY_LENGTH = 1024
"""S3's longest object key (in bytes; the schema can only count characters)."""


class ImageFormat(StrEnum):
    """The disk format of an image file (Glance's disk_format)."""

    QCOW2 = "qcow2"
    RAW = "raw"


class ImagePhase(StrEnum):
    """A one-word summary of an Image's state."""

    PENDING = "Pending"
    IMPORTING = "Importing"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


@model
class ContainerDiskSource:
    """A KubeVirt containerDisk: a container image holding the disk in /disk."""

    image: str = prop(
        "The container image, such as quay.io/containerdisks/fedora:40. Servers pull it "
        "at boot and get an ephemeral root disk: what they write is lost on restart.",
        String(
            min_length=1,
            max_length=512,
            pattern=r"^[^\s]+$",
            pattern_message="must be a container image reference without spaces",
        ),
    )


@model
class HttpSource:
    """A disk image file downloaded over HTTP or HTTPS (CDI's http source)."""

    url: str = prop(
        "The file's URL, http:// or https://, such as "
        "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img.",
        String(
            min_length=8,
            max_length=2048,
            pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
            pattern_message="must be an http:// or https:// URL without spaces",
        ),
    )


@model
class BucketSource:
    """An object in a Nimbus Bucket of the Image's namespace."""

    name: str = prop(
        "The name of the Bucket (a storage.nimbus.dev Bucket resource, not its S3 name) "
        "in the Image's namespace.",
        object_name(),
    )
    key: str = prop(
        "The object's key in the bucket, such as images/noble.qcow2.",
        String(min_length=1, max_length=MAX_KEY_LENGTH),
    )
    access_secret_name: str | None = prop(
        "A Secret of the Image's namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "that can read the object, such as the one a BucketAccess with accessMode ReadOnly "
        "writes. Unset: the operator issues read-only credentials for this bucket itself, "
        "since the Bucket belongs to the Image's namespace.",
        object_name(),
        default=None,
    )


def _count_set(*fields: str) -> str:
    return " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields)


@model
class ImageSource:
    """Where the image comes from: exactly one of containerDisk, http and bucket."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            f"{_count_set('containerDisk', 'http', 'bucket')} == 1",
            "set exactly one of containerDisk, http and bucket",
            lambda source: sum(key in source for key in ("containerDisk", "http", "bucket")) == 1,
        ),
    )

    container_disk: ContainerDiskSource | None = prop(
        "Boot from a containerDisk image; nothing is imported.",
        Object(model=ContainerDiskSource),
        default=None,
    )
    http: HttpSource | None = prop(
        "Import a disk image file from an HTTP or HTTPS URL.",
        Object(model=HttpSource),
        default=None,
    )
    bucket: BucketSource | None = prop(
        "Import a disk image file from an object in a Nimbus Bucket.",
        Object(model=BucketSource),
        default=None,
    )

    @property
    def summary(self) -> str:
        """One line for people (status.source): ``bucket:images/noble.qcow2``."""
        if self.container_disk is not None:
            return f"containerDisk:{self.container_disk.image}"
        if self.http is not None:
            return f"http:{self.http.url}"
        if self.bucket is not None:
            return f"bucket:{self.bucket.name}/{self.bucket.key}"
        return ""


@model
class ImageSpec(SpecModel):
    """The image's source and format, who may boot it, and the least disk it needs.

    The source and format cannot change, as Glance's image data cannot: create another
    Image and rebuild servers with it.
    """

    source: ImageSource = prop(
        "Where the image comes from: exactly one of containerDisk, http and bucket. Cannot change.",
        Object(
            model=ImageSource,
            rules=(immutable("source cannot change: create another Image"),),
        ),
    )
    format: ImageFormat = prop(
        "The disk format of an imported file: qcow2 or raw (ignored for containerDisk). "
        "Cannot change.",
        Choice(enum=ImageFormat, rules=(immutable("format cannot change: create another Image"),)),
        default=ImageFormat.QCOW2,
    )
    min_disk: str | None = prop(
        "The smallest root disk the image boots on (Glance's min_disk), such as 10Gi: "
        "servers whose flavor's rootDisk is smaller are refused.",
        Quantity(min_bytes=1),
        default=None,
    )
    public: bool = prop(
        "Let VirtualServers of every namespace boot this image (they name it with "
        "image.namespace); otherwise only those of the Image's own namespace may.",
        Boolean(),
        default=False,
    )

    @property
    def min_disk_bytes(self) -> int | None:
        """``minDisk`` in bytes, or None."""
        if self.min_disk is None:
            return None
        return parse_quantity(self.min_disk, field_path="minDisk")


@model
class ImageStatus(StatusModel):
    """What the operator last observed of an Image."""

    observed_generation: int | None = observed_generation_field()
    phase: ImagePhase | None = phase_field(
        ImagePhase,
        "A one-word summary: Pending, Importing, Ready, Failed or Deleting (waiting for its "
        "users to go).",
    )
    conditions: tuple[Condition, ...] = conditions_field()
    source: str | None = prop(
        "The source in one line: containerDisk:<image>, http:<url> or bucket:<Bucket>/<key>.",
        String(max_length=2100),
        default=None,
    )
    size_bytes: int | None = prop(
        "The size of the imported disk image, in bytes.",
        Integer(minimum=0, format="int64"),
        default=None,
    )
    progress: str | None = prop(
        "How far the import is, as CDI reports it (e.g. 45.2%).",
        String(max_length=16),
        default=None,
    )
    claim_name: str | None = prop(
        "The PersistentVolumeClaim holding the imported image, which servers' root disks "
        "are cloned from (none for a containerDisk).",
        object_name(),
        default=None,
    )


@dataclass(frozen=True, slots=True)
class Image:
    """An Image as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: ImageSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), ImageSpec.from_body(body))


IMAGE = ResourceKind(
    kind="Image",
    plural="images",
    short_names=("img",),
    scope=Scope.NAMESPACED,
    description=(
        "Image is a boot image for VirtualServers, as Glance's images are: a KubeVirt "
        "containerDisk, a qcow2 or raw file imported over HTTP, or one imported from an "
        "object in a Nimbus Bucket of the same namespace. Servers of its namespace may boot "
        "it; public: true lets every namespace's servers boot it."
    ),
    spec=ImageSpec,
    status=ImageStatus,
    printer_columns=(
        PrinterColumn("Source", ".status.source", "string", "Where the image comes from."),
        PrinterColumn("Phase", ".status.phase", "string", "A one-word summary of the state."),
        PrinterColumn("Size", ".status.sizeBytes", "integer", "Bytes in the imported image."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
)
