"""Why a database's replicas cannot be reached: what each place that may hold one answers now.

A gateway that cannot read its catalog at start says this in its log, rather than only that too
few nodes answered: ``507 device d0 missing on 127.0.0.1:6201 (/srv/node/d0 does not exist)``,
``no answer from 127.0.0.1:6202 for device d0: connection refused``, ``401 from 127.0.0.1:6203:
wrong cluster token``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from typing import Any

import aiohttp

from nimbus_storage.cluster.db_replicas import DatabaseReplicas
from nimbus_storage.cluster.quorum import placements
from nimbus_storage.protocol.client import NodeClient, Placement
from nimbus_storage.protocol.db_ops import DbOp

PROBE_TIMEOUT = 5.0
"""Seconds each place gets to answer."""


async def probe_replicas(replicas: DatabaseReplicas, name: str) -> list[str]:
    """One line per place that may hold a replica of ``name`` (its primaries, then as many
    handoffs), saying what it answers now."""
    try:
        ring = replicas.rings.current()
    except (OSError, ValueError) as exc:
        return [f"the ring could not be read: {exc}"]
    primaries, handoffs = placements(ring, name)
    where = [*primaries, *itertools.islice(handoffs, ring.replicas)]
    return list(await asyncio.gather(*(probe_one(replicas.client, w, name) for w in where)))


async def probe_one(client: NodeClient, where: Placement, name: str) -> str:
    """What ``where`` answers to a read of its replica of ``name``."""
    body = json.dumps({"op": DbOp.REPLICA_ID, "args": {}})
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with client.session.post(
                where.db_url(name), data=body, headers={"Content-Type": "application/json"}
            ) as response:
                status = response.status
                text = (await response.read())[:200].decode(errors="replace").strip()
            reason = await _device_problem(client, where) if status == 507 else None
    except TimeoutError:
        return f"no answer from {where.node} for device {where.device} in {PROBE_TIMEOUT:g} s"
    except (aiohttp.ClientError, OSError) as exc:
        return f"no answer from {where.node} for device {where.device}: {_why(exc)}"
    if status == 200:
        return f"200 device {where.device} holds a replica on {where.node}"
    if status == 404:
        return f"404 device {where.device} holds no replica yet on {where.node}"
    if status == 507:
        return f"507 device {where.device} missing on {where.node}" + (
            f" ({reason})" if reason else ""
        )
    if status == 401:
        return f"401 from {where.node}: wrong cluster token (NIMBUS_CLUSTER_TOKEN differs)"
    return f"{status} from {where.node} for device {where.device}: {text}"


async def _device_problem(client: NodeClient, where: Placement) -> str | None:
    """Why the node says the device cannot be used (its ``/_nimbus/healthz``), if it says."""
    try:
        async with client.session.get(f"http://{where.node}/_nimbus/healthz") as response:
            doc: Any = await response.json()
    except (aiohttp.ClientError, OSError, ValueError):
        return None
    problems = doc.get("problems") if isinstance(doc, dict) else None
    problem = problems.get(where.device) if isinstance(problems, dict) else None
    return problem if isinstance(problem, str) else None


def _why(exc: BaseException) -> str:
    """``connection refused`` rather than aiohttp's whole sentence."""
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error.errno:
        return os.strerror(exc.os_error.errno).lower()
    return str(exc) or type(exc).__name__
