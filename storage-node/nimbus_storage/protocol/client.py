"""HTTP calls to one storage node (docs/storage-cluster.md), with errors sorted by what they
mean for a quorum: the node answered, the node is unreachable, or the device is full."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDict

from nimbus_storage.blobs.diskfile import SuffixEntry
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.protocol.footer import FOOTER_HEADER, FOOTER_SIZE, encode_footer
from nimbus_storage.protocol.headers import (
    MAX_META_HEADER,
    META_HEADER,
    TIMESTAMP_HEADER,
    TOKEN_HEADER,
)

STREAM_CHUNK = 1024 * 1024
# Suffixes to recompute per POST /replicate: keeps the request line far below 8 KiB.
RECALCULATE_BATCH = 512
_ENTRY_KINDS = frozenset({"data", "tombstone"})


class NodeUnavailable(Exception):
    """The node could not be reached or broke off: try another replica or a handoff."""


class DatabaseMissing(Exception):
    """The node answered that it holds no replica of the database (a read: ask another)."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one replica of a blob lives."""

    node: str  # host:port
    device: str
    partition: int

    def url(self, name: str) -> str:
        return f"{self.partition_url()}/{quote(name, safe='')}"

    def partition_url(self) -> str:
        return f"http://{self.node}/objects/{self.device}/{self.partition}"

    def db_url(self, name: str) -> str:
        return f"http://{self.node}/db/{self.device}/{self.partition}/{quote(name, safe='')}"

    def replicate_url(self, suffixes: Sequence[str] = ()) -> str:
        url = f"http://{self.node}/replicate/{self.device}/{self.partition}"
        return f"{url}/{'-'.join(suffixes)}" if suffixes else url


@dataclass(frozen=True, slots=True)
class NodeAnswer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive from a node

    @property
    def timestamp(self) -> str | None:
        return self.headers.get(TIMESTAMP_HEADER)

    @property
    def etag(self) -> str:
        """The md5 hex of the blob the node stored or holds ('' when it named none)."""
        return self.headers.get("ETag", "").strip('"')


@dataclass
class NodeTimeouts:
    connect: float = 2.0
    """Seconds to reach a node before trying the next replica."""

    read: float = 30.0
    """Seconds a node may stay silent mid-request: no byte of its answer, no answer to a PUT's
    ``Expect: 100-continue``, or (while we send a body) not taking the next chunk."""


class OpenRead:
    """A node's answer to ``NodeClient.open_read``: its status and headers, and, when the
    status is 200 or 206, its body still to be read with ``chunks``. Closed by its reader."""

    def __init__(
        self,
        answer: NodeAnswer,
        where: Placement,
        start: int,
        body: Callable[[int], AsyncIterator[bytes]],
        release: Callable[[], object],
    ) -> None:
        self.answer = answer
        self.where = where
        self.start = start
        self._body = body
        self._release = release

    def chunks(self, chunk_size: int = STREAM_CHUNK) -> AsyncIterator[bytes]:
        """The body; NodeUnavailable if it breaks."""
        return self._body(chunk_size)

    def close(self) -> None:
        """Back to the pool if the body was read to its end; otherwise the connection closes."""
        self._release()


class NodeClient:
    """One connection pool to every node of the cluster."""

    def __init__(self, token: str, timeouts: NodeTimeouts | None = None) -> None:
        self.token = token
        self.timeouts = timeouts or NodeTimeouts()
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                sock_connect=self.timeouts.connect, sock_read=self.timeouts.read
            )
            self._session = aiohttp.ClientSession(
                timeout=timeout,
                connector=aiohttp.TCPConnector(limit=256, limit_per_host=64),
                headers={TOKEN_HEADER: self.token},
                auto_decompress=False,
                max_field_size=MAX_META_HEADER,  # X-Nimbus-Meta may carry up to 64 KiB
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def put(
        self,
        where: Placement,
        name: str,
        body: AsyncIterator[bytes],
        *,
        size: int,
        meta: Mapping[str, str],
        timestamp: str,
        trailer: BodyTrailer | None = None,
    ) -> NodeAnswer:
        """Store ``size`` bytes of ``body`` at ``where``. ``trailer``, when given, is read once
        the body is sent, and its facts follow it as the meta footer, to be stored with
        ``meta`` (protocol/footer.py)."""
        headers = {
            TIMESTAMP_HEADER: timestamp,
            META_HEADER: json.dumps(dict(meta)),
            "Content-Length": str(size),
        }
        if trailer is not None:
            headers[FOOTER_HEADER] = str(FOOTER_SIZE)
            headers["Content-Length"] = str(size + FOOTER_SIZE)
            body = _followed_by_footer(body, trailer)
        # Expect: 100-continue: the node answers before it takes a byte (100 Continue, or a
        # final status such as 507 for a missing or full device), so a refused write is still
        # whole and can go to a handoff (quorum.SlotWrite). aiohttp's sock_read only starts
        # once the body is sent: a node that never answers the expectation, or stops reading
        # the upload, would hold the write forever. A deadline armed until the body is asked
        # for, then while each chunk sits with the node (and disarmed while we wait for the
        # client's next one), bounds that.
        limit = self.timeouts.read
        try:
            async with asyncio.timeout(limit) as deadline:
                watched = _stall_watch(body, deadline, limit)
                return await self._call(
                    "PUT", where.url(name), headers=headers, data=watched, expect100=True
                )
        except TimeoutError as exc:
            raise NodeUnavailable(
                f"PUT {where.url(name)}: no answer to the expectation, or the body not taken,"
                f" for {limit} s"
            ) from exc

    async def head(self, where: Placement, name: str) -> NodeAnswer:
        return await self._call("HEAD", where.url(name))

    async def delete(self, where: Placement, name: str, timestamp: str) -> NodeAnswer:
        return await self._call("DELETE", where.url(name), headers={TIMESTAMP_HEADER: timestamp})

    async def stream(
        self, where: Placement, name: str, start: int, end: int, chunk_size: int = STREAM_CHUNK
    ) -> AsyncIterator[bytes]:
        """Bytes ``start..end`` of the replica at ``where``; NodeUnavailable if it breaks."""
        headers = {"Range": f"bytes={start}-{end}"}
        try:
            async with self.session.get(where.url(name), headers=headers) as response:
                if response.status not in (200, 206):
                    raise NodeUnavailable(f"{where.node} answered {response.status} to a read")
                async for chunk in response.content.iter_chunked(chunk_size):
                    yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NodeUnavailable(f"{where.node}: {exc}") from exc

    async def open_read(self, where: Placement, name: str, start: int) -> OpenRead:
        """A GET of the replica at ``where`` from ``start`` to its end, answered but not yet
        read: a reader's HEAD and first read in one request. The caller closes it."""
        try:
            response = await self.session.get(where.url(name), headers={"Range": f"bytes={start}-"})
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NodeUnavailable(f"{where.node}: {exc}") from exc
        answer = NodeAnswer(response.status, CIMultiDict(response.headers))
        if response.status not in (200, 206):
            response.release()

        async def body(chunk_size: int) -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_chunked(chunk_size):
                    yield chunk
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise NodeUnavailable(f"{where.node}: {exc}") from exc

        return OpenRead(answer, where, start, body, response.release)

    async def replicate(self, where: Placement, recalculate: Sequence[str] = ()) -> dict[str, str]:
        """The partition's suffix hashes at ``where``, recomputing ``recalculate`` first.

        NodeUnavailable when the node cannot be reached or answers anything but 200 with a
        ``{suffix: hash}`` object.
        """
        batches = [
            recalculate[i : i + RECALCULATE_BATCH]
            for i in range(0, len(recalculate), RECALCULATE_BATCH)
        ] or [()]
        hashes: object = None
        for batch in batches:  # each answer holds every suffix: the last one is complete
            hashes = await self._call_json("POST", where.replicate_url(batch))
        if not isinstance(hashes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()
        ):
            raise NodeUnavailable(f"{where.node}: suffix hashes are not a JSON object of strings")
        return hashes

    async def list_suffix(self, where: Placement, suffix: str) -> list[SuffixEntry]:
        """The newest state of every name in one suffix of the partition at ``where``."""
        url = f"{where.partition_url()}?suffix={suffix}"
        doc = await self._call_json("GET", url)
        entries = _suffix_entries(doc)
        if entries is None:
            raise NodeUnavailable(f"{where.node}: suffix listing is not a list of entries")
        return entries

    async def db_call(
        self, where: Placement, name: str, op: DbOp, args: Mapping[str, object]
    ) -> object:
        """``op`` on the replica of database ``name`` at ``where``; its ``result``
        (protocol/db_ops.py says what each op does).

        DatabaseMissing when the node has no replica (404), NodeUnavailable for anything else
        but a 200 with a result (a full or missing device answers 507).
        """
        url = where.db_url(name)
        body = json.dumps({"op": op, "args": args}, separators=(",", ":"))
        try:
            async with self.session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                answer = await response.read()
                if response.status == 404:
                    raise DatabaseMissing(f"{where.node} has no replica of {name}")
                if response.status != 200:
                    text = answer[:200].decode(errors="replace").strip()
                    raise NodeUnavailable(f"{op} {url}: answered {response.status} {text}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NodeUnavailable(f"{op} {url}: {exc}") from exc
        try:
            doc = json.loads(answer)
        except ValueError as exc:
            raise NodeUnavailable(f"{op} {url}: answer is not JSON: {exc}") from None
        if not isinstance(doc, dict) or "result" not in doc:
            raise NodeUnavailable(f"{op} {url}: answer has no result")
        return doc["result"]

    async def _call_json(self, method: str, url: str) -> object:
        try:
            async with self.session.request(method, url) as response:
                body = await response.read()
                if response.status != 200:
                    raise NodeUnavailable(f"{method} {url}: answered {response.status}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NodeUnavailable(f"{method} {url}: {exc}") from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise NodeUnavailable(f"{method} {url}: answer is not JSON: {exc}") from None

    async def _call(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: AsyncIterator[bytes] | None = None,
        expect100: bool = False,
    ) -> NodeAnswer:
        try:
            async with self.session.request(
                method, url, headers=headers, data=data, expect100=expect100
            ) as response:
                await response.read()
                return NodeAnswer(response.status, CIMultiDict(response.headers))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NodeUnavailable(f"{method} {url}: {exc}") from exc


async def _followed_by_footer(
    body: AsyncIterator[bytes], trailer: BodyTrailer
) -> AsyncIterator[bytes]:
    async for chunk in body:
        yield chunk
    yield encode_footer(trailer.facts())  # the body is exhausted: its trailer is set


async def _stall_watch(
    body: AsyncIterator[bytes], deadline: asyncio.Timeout, limit: float
) -> AsyncIterator[bytes]:
    """``body``, with ``deadline`` due ``limit`` seconds after each chunk is handed over until
    the consumer asks for the next one (the expiry surfaces as TimeoutError: NodeUnavailable).
    The caller arms ``deadline`` for the wait until the body is first asked for (100 Continue).
    """
    loop = asyncio.get_running_loop()
    deadline.reschedule(None)  # the node asked for the body: now we may wait on our client
    async for chunk in body:
        deadline.reschedule(loop.time() + limit)
        yield chunk
        deadline.reschedule(None)


def _suffix_entries(doc: object) -> list[SuffixEntry] | None:
    """``[{"name", "timestamp", "kind"}]`` as entries; None when it is anything else."""
    if not isinstance(doc, list):
        return None
    entries: list[SuffixEntry] = []
    for item in doc:
        if not isinstance(item, dict):
            return None
        name, timestamp, kind = item.get("name"), item.get("timestamp"), item.get("kind")
        if not isinstance(name, str) or not isinstance(timestamp, str) or kind not in _ENTRY_KINDS:
            return None
        entries.append(SuffixEntry(name, timestamp, str(kind)))
    return entries
