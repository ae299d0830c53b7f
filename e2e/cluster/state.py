"""The state file of a running control plane, and the health report built from it.

``<run dir>/state.json`` records what ``up`` started: ports, the kubeconfig, and for each
component its PID, binary and log file. ``status``, ``down`` and ``env`` work from it alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from e2e.cluster import processes

STATE_VERSION = 1


@dataclass(frozen=True)
class ComponentRecord:
    name: str
    pid: int
    binary: str
    log_file: str


@dataclass(frozen=True)
class ClusterState:
    run_dir: str
    kubeconfig: str
    api_server: str
    started_at: str
    ports: dict[str, int]
    components: tuple[ComponentRecord, ...] = ()
    version: int = STATE_VERSION

    def with_component(self, record: ComponentRecord) -> ClusterState:
        kept = tuple(c for c in self.components if c.name != record.name)
        return ClusterState(
            self.run_dir,
            self.kubeconfig,
            self.api_server,
            self.started_at,
            self.ports,
            (*kept, record),
            self.version,
        )

    def to_json(self) -> str:
        document = {
            "version": self.version,
            "run_dir": self.run_dir,
            "kubeconfig": self.kubeconfig,
            "api_server": self.api_server,
            "started_at": self.started_at,
            "ports": self.ports,
            "components": [
                {"name": c.name, "pid": c.pid, "binary": c.binary, "log_file": c.log_file}
                for c in self.components
            ],
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        document = json.loads(text)
        if document.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state file version {document.get('version')!r}")
        return cls(
            run_dir=str(document["run_dir"]),
            kubeconfig=str(document["kubeconfig"]),
            api_server=str(document["api_server"]),
            started_at=str(document["started_at"]),
            ports={str(k): int(v) for k, v in document["ports"].items()},
            components=tuple(
                ComponentRecord(str(c["name"]), int(c["pid"]), str(c["binary"]), str(c["log_file"]))
                for c in document["components"]
            ),
        )


def save_state(path: Path, state: ClusterState) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(state.to_json())
    temporary.replace(path)


def load_state(path: Path) -> ClusterState | None:
    try:
        return ClusterState.from_json(path.read_text())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    pid: int
    alive: bool
    log_file: str
    log_tail: list[str] = field(default_factory=list)
    """Last lines of the log, filled in only for a component that is not running."""

    def describe(self) -> str:
        word = "running" if self.alive else "DEAD"
        lines = [f"{self.name:<24} pid {self.pid:<8} {word:<8} log {self.log_file}"]
        if not self.alive:
            lines.append(f"  last {len(self.log_tail)} lines of {self.log_file}:")
            lines.extend(f"  | {line}" for line in self.log_tail)
        return "\n".join(lines)


def component_health(
    state: ClusterState, tail_lines: int = processes.LOG_TAIL_LINES
) -> list[ComponentHealth]:
    """Alive/dead for every recorded component; dead ones carry their log tail."""
    report = []
    for record in state.components:
        alive = processes.is_running(record.pid, record.binary)
        tail = [] if alive else processes.log_tail(Path(record.log_file), tail_lines)
        report.append(ComponentHealth(record.name, record.pid, alive, record.log_file, tail))
    return report


def all_alive(report: list[ComponentHealth]) -> bool:
    return bool(report) and all(item.alive for item in report)


def none_alive(report: list[ComponentHealth]) -> bool:
    return not any(item.alive for item in report)
