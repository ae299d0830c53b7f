"""A QMP client (QEMU's JSON control protocol over its Unix socket)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from e2e.guest.spec import QMP_COMMAND_SECONDS, GuestError


class Qmp:
    """A QMP client: one connection per command (QEMU serves one client at a time)."""

    def __init__(self, path: Path, timeout: float = QMP_COMMAND_SECONDS) -> None:
        self.path = path
        self.timeout = timeout

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(str(self.path))
            with sock.makefile("rwb") as stream:
                greeting = json.loads(stream.readline() or b"{}")
                if "QMP" not in greeting:
                    raise GuestError(f"QMP {self.path}: unexpected greeting {greeting!r}")
                self._call(stream, "qmp_capabilities", None)
                return self._call(stream, command, arguments)

    @staticmethod
    def _call(stream: Any, command: str, arguments: dict[str, Any] | None) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()
        while True:
            line = stream.readline()
            if not line:
                raise GuestError(f"QMP: connection closed before {command} answered")
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise GuestError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            # An asynchronous event ({"event": ...}): not the answer.
