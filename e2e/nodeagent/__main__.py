"""``python -m e2e.nodeagent``: run the node agent (started by ``python -m e2e.cluster up``).

SIGTERM stops the agent but not the containers it runs, as a kubelet restart leaves them: the
next agent adopts them. ``python -m e2e.cluster down`` stops the containers too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from aiohttp import web

from e2e.nodeagent.agent import NodeAgent
from e2e.nodeagent.kubeapi import Credentials, KubeApi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m e2e.nodeagent", description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--server", required=True, help="API server URL")
    parser.add_argument("--ca", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--nodes", required=True, help="comma-separated node names")
    parser.add_argument("--healthz-port", type=int, required=True)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    api = KubeApi(Credentials(args.server, args.ca, args.cert, args.key))
    port = int(args.server.rsplit(":", 1)[1])
    agent = NodeAgent(api, tuple(args.nodes.split(",")), args.run_dir, port)
    ready = asyncio.Event()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok") if ready.is_set() else web.Response(status=503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.healthz_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    work = loop.create_task(agent.run())
    agent.on_ready = ready.set
    await stop.wait()
    work.cancel()
    await runner.cleanup()
    await api.close()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
