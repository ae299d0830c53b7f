"""The storage node's HTTP API (docs/storage-cluster.md) through aiohttp's test client."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig, NodeContext
from nimbus_storage.node.server import MAX_FIELD_SIZE, build_app, make_context

T1, T2, T3 = (normalize_timestamp(t) for t in (1700000001.0, 1700000002.0, 1700000003.0))
RING = StoreIdentity("p", "s", 4)
Client = TestClient[web.Request, web.Application]
TOKEN = "cluster-secret"
AUTH = {"X-Nimbus-Cluster-Token": TOKEN}


def partition_of(name: str) -> int:
    return RING.partition(RING.name_hash(name))


def url(name: str, device: str = "d0", partition: int | None = None) -> str:
    part = partition_of(name) if partition is None else partition
    return f"/objects/{quote(device, safe='')}/{part}/{quote(name, safe='')}"


def put_headers(timestamp: str = T1, meta: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **AUTH,
        "X-Nimbus-Timestamp": timestamp,
        "X-Nimbus-Meta": json.dumps(meta if meta is not None else {"content-type": "a/b"}),
    }


@pytest.fixture
def node(tmp_path: Path) -> NodeContext:
    config = NodeConfig(
        data_dir=tmp_path,
        identity=RING,
        devices=("d0", "d1"),
        token=TOKEN,
        fsync=False,
        create_devices=True,
        auditor=None,
    )
    return make_context(config)


@pytest.fixture
async def client(node: NodeContext) -> AsyncIterator[Client]:
    server = TestServer(build_app(node))
    await server.start_server(max_field_size=MAX_FIELD_SIZE)  # as start_node does
    # Meta comes back in a header too: the client's limit must be as high as the server's.
    async with TestClient(server, max_field_size=MAX_FIELD_SIZE) as client:
        yield client


async def put(client: Client, name: str, body: bytes, timestamp: str = T1, **kw: str) -> int:
    async with client.put(url(name), data=body, headers=put_headers(timestamp, kw or None)) as r:
        return r.status


# --- PUT / GET / HEAD -------------------------------------------------------------------------


async def test_put_then_get_round_trips_body_and_facts(client: Client) -> None:
    name = "bucket/dir/ключ with spaces%2F"
    body = b"hello node" * 1000
    meta = {"content-type": "text/plain", "x-amz-meta-a": "ü"}
    async with client.put(url(name), data=body, headers=put_headers(T1, meta)) as response:
        assert response.status == 201
        assert response.headers["ETag"] == hashlib.md5(body).hexdigest()
        assert response.headers["X-Nimbus-Timestamp"] == T1
    async with client.get(url(name), headers=AUTH) as response:
        assert response.status == 200
        assert await response.read() == body
        assert response.headers["ETag"] == hashlib.md5(body).hexdigest()
        assert response.headers["Content-Length"] == str(len(body))
        assert response.headers["X-Nimbus-Size"] == str(len(body))
        assert response.headers["X-Nimbus-Timestamp"] == T1
        assert json.loads(response.headers["X-Nimbus-Meta"]) == meta
    async with client.head(url(name), headers=AUTH) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(body))
        assert await response.read() == b""


@pytest.mark.parametrize("name", ["b/line1\nline2", "b/cr\rlf\n", "b/\x01\x00\x7f", "b/ "])
async def test_names_with_control_characters_round_trip(client: Client, name: str) -> None:
    """aiohttp routes on the decoded path, where %0A is a line feed: every route matches it."""
    assert await put(client, name, b"data") == 201
    async with client.get(url(name), headers=AUTH) as response:
        assert (response.status, await response.read()) == (200, b"data")
    delete = {**AUTH, "X-Nimbus-Timestamp": T2}
    async with client.delete(url(name), headers=delete) as response:
        assert response.status == 204


async def test_empty_object(client: Client) -> None:
    assert await put(client, "empty", b"") == 201
    async with client.get(url("empty"), headers=AUTH) as response:
        assert response.status == 200
        assert await response.read() == b""
        assert response.headers["ETag"] == hashlib.md5(b"").hexdigest()


@pytest.mark.parametrize(
    ("header", "status", "expected", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=4-", 206, b"456789", "bytes 4-9/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=-20", 206, b"0123456789", "bytes 0-9/10"),
        ("bytes=5-2", 200, b"0123456789", None),  # invalid: ignored
        ("bytes=0-1,4-5", 200, b"0123456789", None),  # several ranges: ignored
    ],
)
async def test_range_reads(
    client: Client, header: str, status: int, expected: bytes, content_range: str | None
) -> None:
    await put(client, "digits", b"0123456789")
    async with client.get(url("digits"), headers={**AUTH, "Range": header}) as response:
        assert response.status == status
        assert await response.read() == expected
        assert response.headers.get("Content-Range") == content_range
        assert response.headers["X-Nimbus-Size"] == "10"


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=-0", "bytes=99-100"])
async def test_unsatisfiable_range_is_416(client: Client, header: str) -> None:
    await put(client, "digits", b"0123456789")
    async with client.get(url("digits"), headers={**AUTH, "Range": header}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == "bytes */10"


async def test_missing_object_is_404_without_timestamp(client: Client) -> None:
    async with client.get(url("nothing"), headers=AUTH) as response:
        assert response.status == 404
        assert "X-Nimbus-Timestamp" not in response.headers


# --- last writer wins -------------------------------------------------------------------------


async def test_older_write_is_409_with_the_newer_timestamp(client: Client) -> None:
    assert await put(client, "k", b"new", T2) == 201
    async with client.put(url("k"), data=b"old", headers=put_headers(T1)) as response:
        assert response.status == 409
        assert response.headers["X-Nimbus-Timestamp"] == T2
    assert await put(client, "k", b"tie", T2) == 409
    async with client.get(url("k"), headers=AUTH) as response:
        assert await response.read() == b"new"
    assert await put(client, "k", b"newer", T3) == 201


# --- DELETE -----------------------------------------------------------------------------------


async def test_delete_then_get_is_404_with_tombstone_timestamp(client: Client) -> None:
    await put(client, "k", b"data", T1)
    async with client.delete(url("k"), headers={**AUTH, "X-Nimbus-Timestamp": T2}) as response:
        assert response.status == 204
    async with client.get(url("k"), headers=AUTH) as response:
        assert response.status == 404
        assert response.headers["X-Nimbus-Timestamp"] == T2
    async with client.head(url("k"), headers=AUTH) as response:
        assert response.status == 404
        assert response.headers["X-Nimbus-Timestamp"] == T2


async def test_delete_of_nothing_is_404_and_still_writes_the_tombstone(client: Client) -> None:
    async with client.delete(url("gone"), headers={**AUTH, "X-Nimbus-Timestamp": T2}) as response:
        assert response.status == 404
    # The tombstone hides an older write that arrives later (it is accepted, then 409).
    assert await put(client, "gone", b"late", T1) == 409
    async with client.get(url("gone"), headers=AUTH) as response:
        assert response.status == 404
        assert response.headers["X-Nimbus-Timestamp"] == T2


async def test_delete_older_than_the_data_is_409(client: Client) -> None:
    await put(client, "k", b"data", T2)
    async with client.delete(url("k"), headers={**AUTH, "X-Nimbus-Timestamp": T1}) as response:
        assert response.status == 409
        assert response.headers["X-Nimbus-Timestamp"] == T2
    async with client.get(url("k"), headers=AUTH) as response:
        assert response.status == 200


async def test_delete_needs_a_timestamp(client: Client) -> None:
    async with client.delete(url("k"), headers=AUTH) as response:
        assert response.status == 400
        assert "X-Nimbus-Timestamp" in await response.text()


# --- auth, bad requests, devices --------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong"])
async def test_requests_without_the_token_are_401(client: Client, token: str | None) -> None:
    headers = {} if token is None else {"X-Nimbus-Cluster-Token": token}
    await put(client, "k", b"data")
    for method in ("GET", "HEAD", "DELETE", "PUT"):
        async with client.request(method, url("k"), headers=headers) as response:
            assert response.status == 401, method
    async with client.post("/replicate/d0/0", headers=headers) as response:
        assert response.status == 401
    async with client.get(url("k"), headers=AUTH) as response:
        assert await response.read() == b"data"


async def test_health_and_metrics_need_no_token(client: Client) -> None:
    async with client.get("/_nimbus/healthz") as response:
        assert response.status == 200
        assert (await response.json())["devices"] == ["d0", "d1"]
    await put(client, "k", b"12345")
    async with client.get("/_nimbus/metrics") as response:
        text = await response.text()
    assert 'nimbus_node_requests_total{method="PUT",status="201"} 1.0' in text
    assert "nimbus_node_received_bytes_total 5.0" in text


@pytest.mark.parametrize(
    ("headers", "complaint"),
    [
        ({"X-Nimbus-Meta": "{}"}, "X-Nimbus-Timestamp is required"),
        ({"X-Nimbus-Timestamp": T1}, "X-Nimbus-Meta is required"),
        ({"X-Nimbus-Timestamp": "1700000001", "X-Nimbus-Meta": "{}"}, "not a normalised"),
        ({"X-Nimbus-Timestamp": "yesterday", "X-Nimbus-Meta": "{}"}, "not a normalised"),
        ({"X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": "{not json"}, "not JSON"),
        ({"X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": '["a"]'}, "JSON object of strings"),
        ({"X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": '{"a": 1}'}, "JSON object of strings"),
    ],
)
async def test_bad_put_headers_are_400(
    client: Client, headers: dict[str, str], complaint: str
) -> None:
    async with client.put(url("k"), data=b"x", headers={**AUTH, **headers}) as response:
        assert response.status == 400
        assert complaint in await response.text()
    async with client.get(url("k"), headers=AUTH) as response:
        assert response.status == 404


async def test_put_without_content_length_is_400(client: Client) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"chunked"

    async with client.put(url("k"), data=body(), headers=put_headers()) as response:
        assert response.status == 400
        assert "Content-Length" in await response.text()


async def test_wrong_partition_for_the_name_is_400(client: Client) -> None:
    wrong = (partition_of("k") + 1) % 16
    async with client.put(url("k", partition=wrong), data=b"x", headers=put_headers()) as r:
        assert r.status == 400
        assert f"partition {partition_of('k')}" in await r.text()
    async with client.get(url("k", partition=16), headers=AUTH) as response:
        assert response.status == 400  # beyond 2**part_power


@pytest.mark.parametrize(
    "path",
    ["/objects/d0", "/objects/d0/x/name", "/objects/d0/1/a/b", "/objects/d0/1/%ff", "/objects//1"],
)
async def test_malformed_paths_are_400(client: Client, path: str) -> None:
    async with client.get(path, headers=AUTH) as response:
        assert response.status == 400


async def test_unknown_device_is_507(client: Client) -> None:
    async with client.put(url("k", device="d9"), data=b"x", headers=put_headers()) as response:
        assert response.status == 507
    async with client.get(url("k", device="d9"), headers=AUTH) as response:
        assert response.status == 507
    async with client.post("/replicate/d9/0", headers=AUTH) as response:
        assert response.status == 507


async def test_missing_device_dir_is_507_without_create(tmp_path: Path) -> None:
    config = NodeConfig(
        data_dir=tmp_path, identity=RING, devices=("d0", "d1"), token=TOKEN, auditor=None
    )
    (tmp_path / "d0").mkdir()  # d0 is "mounted", d1 is not
    async with TestClient(TestServer(build_app(make_context(config)))) as client:
        assert await put(client, "k", b"x") == 201
        async with client.put(url("k", "d1"), data=b"x", headers=put_headers()) as response:
            assert response.status == 507
        async with client.get("/_nimbus/healthz") as response:
            assert (await response.json())["missing"] == ["d1"]
    assert not (tmp_path / "d1").exists()


async def test_enospc_during_put_is_507(
    client: Client, node: NodeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write path is made to fail as a full disk would (see test_node_full_disk for a real
    one); the node answers 507 and keeps nothing."""
    store = node.devices.get("d0")
    assert store is not None

    async def full_put(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(store), "put_commit", full_put)
    async with client.put(url("k"), data=b"x" * 1000, headers=put_headers()) as response:
        assert response.status == 507
        assert "No space left on device" in await response.text()
    monkeypatch.undo()
    async with client.get(url("k"), headers=AUTH) as response:
        assert response.status == 404


async def test_metadata_larger_than_aiohttps_default_header_limit(client: Client) -> None:
    meta = {f"x-amz-meta-{i}": "v" * 100 for i in range(100)}  # ~12 KiB of JSON
    async with client.put(url("k"), data=b"x", headers=put_headers(T1, meta)) as response:
        assert response.status == 201
    async with client.get(url("k"), headers=AUTH) as response:
        assert json.loads(response.headers["X-Nimbus-Meta"]) == meta


# --- replication endpoints --------------------------------------------------------------------


async def replicate(client: Client, partition: int, suffixes: str = "") -> dict[str, str]:
    path = f"/replicate/d0/{partition}" + (f"/{suffixes}" if suffixes else "")
    async with client.post(path, headers=AUTH) as response:
        assert response.status == 200
        result: dict[str, str] = await response.json()
        return result


async def test_replicate_hashes_follow_writes_and_deletes(client: Client) -> None:
    partition, suffix = partition_of("k"), RING.name_hash("k")[-3:]
    assert await replicate(client, partition) == {}
    await put(client, "k", b"v1", T1)
    first = await replicate(client, partition)
    assert list(first) == [suffix]
    async with client.delete(url("k"), headers={**AUTH, "X-Nimbus-Timestamp": T2}):
        pass
    second = await replicate(client, partition)
    assert second[suffix] != first[suffix]
    assert await replicate(client, partition, f"{suffix}-abc") == second


async def test_replicate_rejects_bad_suffixes(client: Client) -> None:
    async with client.post("/replicate/d0/0/abc-xyz", headers=AUTH) as response:
        assert response.status == 400
    async with client.request("REPORT", "/replicate/d0/0", headers=AUTH) as response:
        assert response.status == 405


async def test_suffix_listing(client: Client) -> None:
    partition, suffix = partition_of("k"), RING.name_hash("k")[-3:]
    await put(client, "k", b"v1", T1)
    path = f"/objects/d0/{partition}"
    async with client.get(path, params={"suffix": suffix}, headers=AUTH) as response:
        assert response.status == 200
        assert await response.json() == [{"name": "k", "timestamp": T1, "kind": "data"}]
    async with client.delete(url("k"), headers={**AUTH, "X-Nimbus-Timestamp": T2}):
        pass
    async with client.get(path, params={"suffix": suffix}, headers=AUTH) as response:
        assert await response.json() == [{"name": "k", "timestamp": T2, "kind": "tombstone"}]
    async with client.get(path, headers=AUTH) as response:
        assert response.status == 400
    async with client.get(path, params={"suffix": "zz"}, headers=AUTH) as response:
        assert response.status == 400


async def test_holdings_count_what_each_device_still_holds(client: Client) -> None:
    async with client.get("/_nimbus/holdings") as response:  # no token: counts only
        assert response.status == 200
        assert await response.json() == {
            "devices": {
                "d0": {"partitions": 0, "databases": 0},
                "d1": {"partitions": 0, "databases": 0},
            }
        }
    names = ["a", "b", "c", "d", "e"]
    for name in names:
        assert await put(client, name, b"x") == 201

    async with client.get("/_nimbus/holdings") as response:
        held = (await response.json())["devices"]

    assert held["d0"]["partitions"] == len({partition_of(name) for name in names})
    assert held["d1"] == {"partitions": 0, "databases": 0}


async def test_metrics_report_each_devices_space(client: Client, node: NodeContext) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    (node.config.data_dir / "d0").mkdir()
    async with client.get("/_nimbus/metrics") as response:
        text = await response.text()

    space = {
        (sample.labels["device"], sample.labels["state"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "nimbus_node_device_bytes"
    }
    expected = os.statvfs(node.config.data_dir / "d0")
    assert space[("d0", "total")] == expected.f_blocks * expected.f_frsize
    assert space[("d0", "free")] > 0
    assert 0 < space[("d0", "used")] < space[("d0", "total")]
    assert {device for device, _ in space} == {"d0"}, "d1 is missing: left out"
