"""A TCP proxy on loopback that tests switch into failure modes: a network partition in a box.

``FaultProxy(target_port)`` listens on 127.0.0.1 (a port of its own) and forwards every
connection to ``127.0.0.1:target_port``. It runs an asyncio loop in a daemon thread, so a
synchronous test drives it with ``set_mode``:

* ``pass``: forward both ways.
* ``blackhole``: a partition that leaves connections hanging. New connections are accepted and
  their bytes read, but nothing is forwarded or answered; open connections stop forwarding too.
  Leaving this mode closes every connection that was open during it (their bytes are gone).
* ``refuse``: the node's port is unreachable: open connections are closed and new ones are closed
  as soon as they are accepted.
* ``cut``: drop every open connection once, then forward new ones (``pass``).

Bounded: at most ``max_connections`` at a time (more are closed at once), and each direction
holds at most one read of ``CHUNK`` bytes while the other side drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, Literal

Mode = Literal["pass", "blackhole", "refuse", "cut"]
MODES: tuple[Mode, ...] = ("pass", "blackhole", "refuse", "cut")
HOST = "127.0.0.1"
CHUNK = 64 * 1024


class FaultProxy:
    def __init__(self, target_port: int, *, port: int = 0, max_connections: int = 256) -> None:
        self.target_port = target_port
        self.port = port
        self.max_connections = max_connections
        self.mode: Mode = "pass"
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> None:
        """Listen (again, after ``stop``) in pass mode."""
        if self._thread is not None:
            return
        self.mode = "pass"
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._listen())

    def stop(self) -> None:
        if self._thread is None:
            return
        self._run(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    def set_mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault proxy mode {mode!r}; one of {MODES}")
        self._run(self._switch(mode))

    def _run(self, step: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(step, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._drop_all()

    async def _switch(self, mode: Mode) -> None:
        previous, self.mode = self.mode, ("pass" if mode == "cut" else mode)
        if mode in ("refuse", "cut") or (previous == "blackhole" and mode != "blackhole"):
            await self._drop_all()

    async def _drop_all(self) -> None:
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse" or len(self._connections) >= self.max_connections:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.CancelledError, OSError):
            pass  # dropped by a mode switch, or a side went away
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "blackhole":
            await _swallow(reader)
            return
        up_reader, up_writer = await asyncio.open_connection(HOST, self.target_port)
        try:
            pumps = [
                asyncio.ensure_future(self._pump(reader, up_writer)),
                asyncio.ensure_future(self._pump(up_reader, writer)),
            ]
            try:
                # Either side closing ends the connection: no half-open forwarding.
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            up_writer.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await source.read(CHUNK):
            if self.mode == "blackhole":
                continue  # read and dropped: the far side never hears of it
            sink.write(chunk)
            await sink.drain()
        with contextlib.suppress(OSError):
            sink.write_eof()


async def _swallow(reader: asyncio.StreamReader) -> None:
    while await reader.read(CHUNK):
        pass
