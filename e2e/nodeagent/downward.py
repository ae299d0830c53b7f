"""The downward API: pod fields and container resources as the kubelet exposes them.

Pure functions over pod and container dicts (camelCase, as the Kubernetes API returns them):
``field_value`` for ``fieldRef``, ``resource_value`` for ``resourceFieldRef`` (with the kubelet's
defaulting of unset limits to the node's allocatable), ``volume_files`` for the files of a
``downwardAPI`` volume, and ``parse_quantity`` for Kubernetes resource quantities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

_QUANTITY = re.compile(r"(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?P<suffix>.*)")
_EXPONENT = re.compile(r"[eE](?P<exp>[+-]?\d+)")
_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}

_RESOURCE_KINDS = ("limits", "requests")
_RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")

# Go's strconv.Quote escapes these with a backslash letter; everything else non-printable is
# written as \xNN (ASCII), \uNNNN or \UNNNNNNNN.
_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity such as ``250m``, ``1.5Gi`` or ``1e3``."""
    match = _QUANTITY.fullmatch(text)
    if match is None or not (match["int"] or match["frac"]):
        raise ValueError(f"invalid quantity {text!r}")
    digits = (match["int"] or "0") + (match["frac"] or "")
    value = Fraction(int(digits), 10 ** len(match["frac"] or ""))
    if match["sign"] == "-":
        value = -value
    suffix = match["suffix"]
    if suffix in _DECIMAL_SUFFIXES:
        return value * _power_of_ten(_DECIMAL_SUFFIXES[suffix])
    if suffix in _BINARY_SUFFIXES:
        return value * (1 << _BINARY_SUFFIXES[suffix])
    if exponent := _EXPONENT.fullmatch(suffix):
        return value * _power_of_ten(int(exponent["exp"]))
    raise ValueError(f"invalid quantity {text!r}: unknown suffix {suffix!r}")


def _power_of_ten(exponent: int) -> Fraction:
    return Fraction(10**exponent) if exponent >= 0 else Fraction(1, 10**-exponent)


def go_quote(text: str) -> str:
    """``text`` as a double-quoted Go string literal, like Go's ``strconv.Quote``."""
    quoted = ['"']
    for char in text:
        if char in _GO_ESCAPES:
            quoted.append(_GO_ESCAPES[char])
        elif char.isprintable():
            quoted.append(char)
        elif ord(char) < 0x80:
            quoted.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            quoted.append(f"\\u{ord(char):04x}")
        else:
            quoted.append(f"\\U{ord(char):08x}")
    quoted.append('"')
    return "".join(quoted)


def format_map(values: Mapping[str, str]) -> str:
    """A labels or annotations map as a downward API file: sorted ``key="value"`` lines."""
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values))


def field_value(pod: dict[str, Any], field_path: str) -> str:
    """The value of a ``fieldRef.fieldPath`` of ``pod``; ValueError for unsupported paths."""
    metadata: dict[str, Any] = pod.get("metadata") or {}
    spec: dict[str, Any] = pod.get("spec") or {}
    status: dict[str, Any] = pod.get("status") or {}
    subscripted = _split_subscript(field_path)
    if subscripted is not None:
        path, key = subscripted
        if path not in ("metadata.labels", "metadata.annotations"):
            raise ValueError(f"fieldPath {field_path!r} does not support subscript")
        values: dict[str, str] = metadata.get(path.removeprefix("metadata.")) or {}
        return str(values.get(key, ""))
    match field_path:
        case "metadata.name" | "metadata.namespace" | "metadata.uid":
            return str(metadata.get(field_path.removeprefix("metadata."), ""))
        case "metadata.labels" | "metadata.annotations":
            return format_map(metadata.get(field_path.removeprefix("metadata.")) or {})
        case "spec.nodeName" | "spec.serviceAccountName":
            return str(spec.get(field_path.removeprefix("spec."), ""))
        case "status.hostIP" | "status.podIP":
            return str(status.get(field_path.removeprefix("status."), ""))
        case "status.hostIPs":
            return ",".join(_ips(status, "hostIPs", "hostIP"))
        case "status.podIPs":
            return ",".join(_ips(status, "podIPs", "podIP"))
    raise ValueError(f"unsupported fieldPath: {field_path!r}")


def resource_value(
    container: dict[str, Any],
    resource: str,
    divisor: str | None,
    node_allocatable: Mapping[str, str],
) -> str:
    """The value of a ``resourceFieldRef`` on ``container``, in whole ``divisor`` units.

    Like the kubelet, an unset (or zero) limit stands for the node's allocatable amount, and the
    result is rounded up: 250m of cpu is "1" core.
    """
    kind, _, name = resource.partition(".")
    if kind not in _RESOURCE_KINDS or name not in _RESOURCE_NAMES:
        raise ValueError(f"unsupported container resource: {resource!r}")
    resources: dict[str, Any] = container.get("resources") or {}
    amounts: dict[str, str] = resources.get(kind) or {}
    amount = parse_quantity(amounts[name]) if name in amounts else Fraction(0)
    if kind == "limits" and amount == 0 and name in node_allocatable:
        amount = parse_quantity(node_allocatable[name])
    # The API serializes an unset divisor as "0"; the kubelet reads zero as 1.
    unit = parse_quantity(divisor) if divisor else Fraction(0)
    if unit == 0:
        unit = Fraction(1)
    return str(math.ceil(amount / unit))


def find_container(containers: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    """The container called ``name``; ValueError (worded like the kubelet's) if there is none."""
    for container in containers:
        if container.get("name") == name:
            return container
    raise ValueError(f"container {name} not found")


def volume_files(
    pod: dict[str, Any],
    items: Sequence[dict[str, Any]],
    containers: Sequence[dict[str, Any]],
    node_allocatable: Mapping[str, str],
) -> dict[str, tuple[bytes, int | None]]:
    """The files of a downwardAPI volume: item path -> (content, item mode or None)."""
    files: dict[str, tuple[bytes, int | None]] = {}
    for item in items:
        path: str = item["path"]
        if field_ref := item.get("fieldRef"):
            content = field_value(pod, field_ref["fieldPath"])
        elif resource_ref := item.get("resourceFieldRef"):
            container = find_container(containers, resource_ref.get("containerName", ""))
            content = resource_value(
                container, resource_ref["resource"], resource_ref.get("divisor"), node_allocatable
            )
        else:
            raise ValueError(f"downwardAPI item {path!r} has neither fieldRef nor resourceFieldRef")
        files[path] = (content.encode(), item.get("mode"))
    return files


def _split_subscript(field_path: str) -> tuple[str, str] | None:
    """``metadata.labels['key']`` -> ("metadata.labels", "key"), as fieldpath does it."""
    if not field_path.endswith("']"):
        return None
    path, opener, key = field_path.removesuffix("']").partition("['")
    if not opener or not path:
        return None
    return path, key


def _ips(status: dict[str, Any], list_field: str, single_field: str) -> list[str]:
    ips = [str(entry.get("ip", "")) for entry in status.get(list_field) or []]
    if not ips and status.get(single_field):
        ips = [str(status[single_field])]
    return ips
