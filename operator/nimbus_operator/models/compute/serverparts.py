"""The parts of a VirtualServer's spec: its image, networks, volumes, reboot and rebuild."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from nimbus_operator.models.common import object_name
from nimbus_operator.models.compute.names import dns_label, namespace_name, port_name
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    AnyRule,
    Array,
    Choice,
    Integer,
    Object,
    Quantity,
    Rule,
    String,
    model,
    prop,
)

MAX_PORTS = 32
MAX_VOLUMES = 16
RESERVED_VOLUME_NAMES = ("rootdisk", "cloudinitdisk")
"""The disks the operator adds itself: the root disk and the cloud-init disk."""


class PowerState(StrEnum):
    """Whether the server should run (KubeVirt runStrategy Always, or Halted)."""

    RUNNING = "Running"
    STOPPED = "Stopped"


class RebootType(StrEnum):
    """How to reboot (Nova's SOFT and HARD)."""

    SOFT = "Soft"
    HARD = "Hard"


class Protocol(StrEnum):
    """A port's protocol."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@model
class ImageRef:
    """The Image a server boots."""

    name: str = prop("The Image's name.", object_name())
    namespace: str | None = prop(
        "The Image's namespace; unset means the server's own. An Image of another "
        "namespace must be public.",
        namespace_name(),
        default=None,
    )


@model
class Port:
    """A port of the server reachable through its Service."""

    name: str = prop("The port's name, such as ssh or http (an IANA service name).", port_name())
    port: int = prop("The port number the server listens on.", Integer(minimum=1, maximum=65535))
    protocol: Protocol = prop("TCP, UDP or SCTP.", Choice(enum=Protocol), default=Protocol.TCP)


@model
class Network:
    """A network the server is attached to. Only the pod network exists for now: the
    server's interface joins it through KubeVirt's masquerade binding, with the pod's IP."""

    name: str = prop(
        "The network's name in the server's definition (a DNS label).",
        dns_label(),
        default="default",
    )
    ports: tuple[Port, ...] = prop(
        "The ports to expose (at most 32): the operator makes a Service named after the "
        "server with these ports, and only these reach the server from other pods.",
        Array(
            items=Object(model=Port),
            max_items=MAX_PORTS,
            list_type="map",
            map_keys=("name",),
            rules=(
                Rule(
                    "self.all(p, self.exists_one(q, q.port == p.port && q.protocol == p.protocol))",
                    "each port number may be listed once per protocol",
                    lambda ports: len({(p["port"], p["protocol"]) for p in ports}) == len(ports),
                ),
            ),
        ),
        default=(),
    )


def _reserved_names() -> str:
    return ", ".join(f"'{name}'" for name in RESERVED_VOLUME_NAMES)


@model
class Volume:
    """An extra disk: a new empty volume of a size, or an existing PersistentVolumeClaim."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            "has(self.size) != has(self.claimName)",
            "set exactly one of size (a new empty disk) and claimName (an existing "
            "PersistentVolumeClaim)",
            lambda volume: ("size" in volume) != ("claimName" in volume),
        ),
        Rule(
            "!has(self.storageClassName) || has(self.size)",
            "storageClassName applies only to a new disk (size), not to claimName",
            lambda volume: "storageClassName" not in volume or "size" in volume,
        ),
    )

    name: str = prop(
        "The disk's name, unique in the server (a DNS label; rootdisk and cloudinitdisk "
        "are the operator's). A new disk's PersistentVolumeClaim is <server>-<name>.",
        dns_label(
            rules=(
                Rule(
                    f"!(self in [{_reserved_names()}])",
                    "rootdisk and cloudinitdisk are the names of the disks the operator "
                    "adds: choose another name",
                    lambda name: name not in RESERVED_VOLUME_NAMES,
                ),
            )
        ),
    )
    size: str | None = prop(
        "Make a new empty disk of this size, such as 50Gi. It is deleted with the server.",
        Quantity(min_bytes=1),
        default=None,
    )
    storage_class_name: str | None = prop(
        "The StorageClass of the new disk; unset means the cluster's default class.",
        object_name(),
        default=None,
    )
    claim_name: str | None = prop(
        "Attach this existing PersistentVolumeClaim of the server's namespace instead; it "
        "is kept when the server is deleted.",
        object_name(),
        default=None,
    )

    @property
    def size_bytes(self) -> int | None:
        """``size`` in bytes, or None for an existing claim."""
        return None if self.size is None else parse_quantity(self.size, field_path="size")


VOLUMES = Array(
    items=Object(model=Volume),
    max_items=MAX_VOLUMES,
    list_type="map",
    map_keys=("name",),
    rules=(
        Rule(
            "self.all(v, self.all(w, v.name == w.name || !has(v.claimName) "
            "|| !has(w.claimName) || v.claimName != w.claimName))",
            "each claimName may be attached once",
            lambda volumes: (
                len([v["claimName"] for v in volumes if "claimName" in v])
                == len({v["claimName"] for v in volumes if "claimName" in v})
            ),
        ),
    ),
)


REQUEST = String(
    min_length=1,
    max_length=253,
    pattern=r"^[^\s]+$",
    pattern_message="must be a token without spaces, such as the current time",
)


@model
class Reboot:
    """A reboot request: a new value of request asks for one reboot."""

    request: str = prop(
        "Any token, such as the current time (2024-05-01T12:00:00Z): each new value asks "
        "for one reboot. The value last acted on is status.lastRebootRequest; the value "
        "a server is created with asks for nothing. Ignored while powerState is Stopped.",
        REQUEST,
    )
    type: RebootType = prop(
        "Soft: the guest is asked to restart (ACPI), as Nova's SOFT; Hard: the virtual "
        "machine is reset, as Nova's HARD.",
        Choice(enum=RebootType),
        default=RebootType.SOFT,
    )


@model
class Rebuild:
    """A rebuild request: a new value of request rebuilds the root disk from spec.image."""

    request: str = prop(
        "Any token, such as the current time: each new value rebuilds the server, as "
        "Nova's rebuild does: the root disk is erased and made again from spec.image "
        "(which may change in the same update), then the server boots with its user data "
        "and keys again; extra volumes, addresses and name are kept. The value last acted "
        "on is status.lastRebuildRequest; the value a server is created with asks for "
        "nothing.",
        REQUEST,
    )
