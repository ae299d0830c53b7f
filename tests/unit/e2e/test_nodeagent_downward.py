"""e2e.nodeagent.downward: quantities, pod fields, container resources and volume files."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from e2e.nodeagent.downward import (
    field_value,
    find_container,
    format_map,
    go_quote,
    parse_quantity,
    resource_value,
    volume_files,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Fraction(0)),
        ("1", Fraction(1)),
        ("250m", Fraction(1, 4)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("2.", Fraction(2)),
        ("0.1m", Fraction(1, 10_000)),
        ("100n", Fraction(1, 10_000_000)),
        ("5u", Fraction(5, 1_000_000)),
        ("1k", Fraction(1000)),
        ("+2k", Fraction(2000)),
        ("-1", Fraction(-1)),
        ("3M", Fraction(3_000_000)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("1e-3", Fraction(1, 1000)),
        ("1.5e+2", Fraction(150)),
        ("1Ki", Fraction(1024)),
        ("64Mi", Fraction(64 * 2**20)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
    ],
)
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", ".", "abc", "Mi", "1x", "1 ", " 1", "1.2.3", "1e", "1KiB", "1ki", "--1"]
)
def test_parse_quantity_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(text)


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert go_quote("plain") == '"plain"'
    assert go_quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert go_quote("a\nb\tc\rd\ae\bf\fg\vh") == '"a\\nb\\tc\\rd\\ae\\bf\\fg\\vh"'
    assert go_quote("\x00\x1b\x7f") == '"\\x00\\x1b\\x7f"'
    assert go_quote("café ☃ 🙂") == '"café ☃ 🙂"'
    assert go_quote("\u200b\U000e0001") == '"\\u200b\\U000e0001"'


def test_format_map_sorts_keys_and_quotes_values_without_a_trailing_newline() -> None:
    labels = {"tier": "web", "app": 'the "shop"', "note": "two\nlines"}

    assert format_map(labels) == 'app="the \\"shop\\""\nnote="two\\nlines"\ntier="web"'
    assert format_map({}) == ""


POD: dict[str, Any] = {
    "metadata": {
        "name": "web-0",
        "namespace": "shop",
        "uid": "3c1e-uid",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"example.com/owner": "team-a"},
    },
    "spec": {"nodeName": "kwok-node-1", "serviceAccountName": "web-sa"},
    "status": {
        "hostIP": "192.168.0.2",
        "hostIPs": [{"ip": "192.168.0.2"}, {"ip": "fd00::2"}],
        "podIP": "10.244.1.5",
        "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00:10::5"}],
    },
}


@pytest.mark.parametrize(
    ("field_path", "value"),
    [
        ("metadata.name", "web-0"),
        ("metadata.namespace", "shop"),
        ("metadata.uid", "3c1e-uid"),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['example.com/owner']", "team-a"),
        ("metadata.annotations['absent']", ""),
        ("metadata.labels", 'app="web"\ntier="front"'),
        ("metadata.annotations", 'example.com/owner="team-a"'),
        ("spec.nodeName", "kwok-node-1"),
        ("spec.serviceAccountName", "web-sa"),
        ("status.hostIP", "192.168.0.2"),
        ("status.hostIPs", "192.168.0.2,fd00::2"),
        ("status.podIP", "10.244.1.5"),
        ("status.podIPs", "10.244.1.5,fd00:10::5"),
    ],
)
def test_field_value(field_path: str, value: str) -> None:
    assert field_value(POD, field_path) == value


def test_field_value_of_a_sparse_pod() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p"}, "status": {"podIP": "10.0.0.3"}}

    assert field_value(pod, "metadata.labels") == ""
    assert field_value(pod, "metadata.labels['app']") == ""
    assert field_value(pod, "spec.nodeName") == ""
    assert field_value(pod, "status.podIPs") == "10.0.0.3"
    assert field_value(pod, "status.hostIPs") == ""


@pytest.mark.parametrize(
    ("field_path", "message"),
    [
        ("spec.containers", "unsupported fieldPath: 'spec.containers'"),
        ("metadata.generateName", "unsupported fieldPath"),
        ("metadata.name['x']", "does not support subscript"),
        ("", "unsupported fieldPath"),
    ],
)
def test_field_value_refuses_unknown_paths(field_path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        field_value(POD, field_path)


ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}
CONTAINER: dict[str, Any] = {
    "name": "app",
    "resources": {
        "limits": {"cpu": "250m", "memory": "100M"},
        "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "1Gi"},
    },
}


@pytest.mark.parametrize(
    ("resource", "divisor", "value"),
    [
        ("limits.cpu", None, "1"),
        ("limits.cpu", "1", "1"),
        ("limits.cpu", "1m", "250"),
        ("limits.cpu", "0", "1"),
        ("limits.cpu", "", "1"),
        ("requests.cpu", "1m", "100"),
        ("requests.cpu", "300m", "1"),
        ("limits.memory", None, "100000000"),
        ("limits.memory", "1Mi", "96"),
        ("limits.memory", "1M", "100"),
        ("requests.memory", "1Mi", "64"),
        ("requests.memory", "1Ki", "65536"),
        ("requests.ephemeral-storage", "1Mi", "1024"),
        ("limits.ephemeral-storage", "1Gi", "100"),
    ],
)
def test_resource_value(resource: str, divisor: str | None, value: str) -> None:
    assert resource_value(CONTAINER, resource, divisor, ALLOCATABLE) == value


def test_unset_or_zero_limits_default_to_the_node_allocatable() -> None:
    bare: dict[str, Any] = {"name": "bare"}
    zero = {"name": "zero", "resources": {"limits": {"cpu": "0", "memory": "0"}}}

    for container in (bare, zero):
        assert resource_value(container, "limits.cpu", "1m", ALLOCATABLE) == "4000"
        assert resource_value(container, "limits.memory", "1Gi", ALLOCATABLE) == "8"
    assert resource_value(bare, "limits.cpu", None, {}) == "0"
    assert resource_value(bare, "requests.cpu", None, ALLOCATABLE) == "0"
    assert resource_value(bare, "requests.memory", None, ALLOCATABLE) == "0"


@pytest.mark.parametrize("resource", ["limits.gpu", "cpu", "limits", "requests.hugepages-2Mi", ""])
def test_resource_value_refuses_unsupported_resources(resource: str) -> None:
    with pytest.raises(ValueError, match="unsupported container resource"):
        resource_value(CONTAINER, resource, None, ALLOCATABLE)


def test_find_container() -> None:
    containers = [{"name": "a"}, {"name": "b"}]

    assert find_container(containers, "b") is containers[1]
    with pytest.raises(ValueError, match=r"^container c not found$"):
        find_container(containers, "c")


def test_volume_files_renders_each_item_with_its_mode() -> None:
    sidecar = {"name": "sidecar", "resources": {"limits": {"memory": "32Mi"}}}
    items: list[dict[str, Any]] = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {
            "path": "cpu_limit_millis",
            "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"},
        },
        {
            "path": "sidecar_mem",
            "resourceFieldRef": {
                "containerName": "sidecar",
                "resource": "limits.memory",
                "divisor": "1Mi",
            },
            "mode": 0o644,
        },
    ]

    files = volume_files(POD, items, [CONTAINER, sidecar], ALLOCATABLE)

    assert files == {
        "labels": (b'app="web"\ntier="front"', None),
        "meta/name": (b"web-0", 0o400),
        "cpu_limit_millis": (b"250", None),
        "sidecar_mem": (b"32", 0o644),
    }


def test_volume_files_encodes_utf8() -> None:
    pod = {"metadata": {"annotations": {"note": "café"}}}
    items = [{"path": "note", "fieldRef": {"fieldPath": "metadata.annotations['note']"}}]

    assert volume_files(pod, items, [], {}) == {"note": ("café".encode(), None)}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"path": "x"}, "neither fieldRef nor resourceFieldRef"),
        (
            {"path": "x", "resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}},
            "container ghost not found",
        ),
        ({"path": "x", "fieldRef": {"fieldPath": "spec.volumes"}}, "unsupported fieldPath"),
    ],
)
def test_volume_files_refuses_bad_items(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        volume_files(POD, [item], [CONTAINER], ALLOCATABLE)
