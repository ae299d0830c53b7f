"""Build the pinned components from the Go module proxy into the binary cache.

Only what is missing is built: a cached binary that prints the expected version is reused.
Components are built one after another (the Go compiler already uses every core). Each build
writes into a ``.partial`` directory that is renamed into place only when complete, so an
interrupted build never leaves a binary that looks valid. Build durations are recorded in
``<cache>/build-times.json``.

CRD sets are generated after their generator is built, the same way: into a ``.partial``
directory, checked (each file one CustomResourceDefinition of the expected name), stamped with
``generated.json`` and renamed into place; a directory whose stamp matches is reused.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import yaml

from e2e.cluster.catalog import (
    COMPONENTS,
    CRD_SETS,
    CrdSet,
    GoComponent,
    bin_cache_root,
    component,
    component_dir,
)

log = logging.getLogger(__name__)

BUILD_TIMES_FILE = "build-times.json"
PROGRESS_INTERVAL_SECONDS = 20.0
VERSION_CHECK_TIMEOUT_SECONDS = 30.0
GENERATE_TIMEOUT_SECONDS = 600.0
GENERATED_STAMP = "generated.json"


class _Versioned(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...


class BuildError(RuntimeError):
    """A component could not be built."""


@dataclass(frozen=True)
class BuildResult:
    component: str
    version: str
    directory: Path
    built: bool
    """False when the cached binaries were reused."""
    seconds: float


def binary_reports_version(binary: Path, spec: GoComponent) -> bool:
    """True when ``binary`` exists, runs, and prints ``spec.version_marker``."""
    if not os.access(binary, os.X_OK):
        return False
    try:
        completed = subprocess.run(
            [str(binary), *spec.version_args],
            capture_output=True,
            text=True,
            timeout=VERSION_CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return spec.version_marker in completed.stdout + completed.stderr


def is_built(spec: GoComponent, cache_root: Path | None = None) -> bool:
    directory = component_dir(spec, cache_root)
    return all(binary_reports_version(directory / name, spec) for name in spec.binaries)


def go_build_command(spec: GoComponent, output_dir: Path) -> list[str]:
    """The ``go build`` command line for ``spec``, writing into ``output_dir``."""
    ldflags = " ".join(("-s", "-w", *spec.ldflags))
    if len(spec.packages) == 1:
        output = str(output_dir / spec.binaries[0])
    else:
        output = f"{output_dir}{os.sep}"
    return ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", output, *spec.packages]


def build_all(
    names: Iterable[str] | None = None,
    *,
    cache_root: Path | None = None,
    force: bool = False,
) -> list[BuildResult]:
    """Build every requested component or CRD set that is missing (all when ``names`` is None).

    A CRD set brings its generator along: ``build_all(["cdi-crds"])`` builds controller-gen
    first if it is not cached.
    """
    root = cache_root or bin_cache_root()
    wanted = set(names) if names is not None else None
    crd_sets = [spec for spec in CRD_SETS if wanted is None or spec.name in wanted]
    generators = {spec.generator for spec in crd_sets}
    specs = [
        spec
        for spec in COMPONENTS
        if wanted is None or spec.name in wanted or spec.name in generators
    ]
    if wanted is not None:
        known = {spec.name for spec in COMPONENTS} | {spec.name for spec in CRD_SETS}
        unknown = wanted - known
        if unknown:
            raise BuildError(f"unknown component(s): {', '.join(sorted(unknown))}")
    root.mkdir(parents=True, exist_ok=True)
    results: list[BuildResult] = []
    with _build_lock(root):
        for spec in specs:
            results.append(_build_one(spec, root, force=force))
        for crd_spec in crd_sets:
            results.append(_generate_crds(crd_spec, root, force=force))
    return results


def _build_one(spec: GoComponent, root: Path, *, force: bool) -> BuildResult:
    directory = component_dir(spec, root)
    started = time.monotonic()
    if not force and is_built(spec, root):
        log.info("%s %s: cached in %s", spec.name, spec.version, directory)
        return BuildResult(spec.name, spec.version, directory, False, time.monotonic() - started)
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain (`go`) is not on PATH; it is needed to build binaries")
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = go_build_command(spec, partial)
    log.info(
        "%s %s: building %s from %s (this can take many minutes on a cold Go cache)",
        spec.name,
        spec.version,
        ", ".join(spec.binaries),
        spec.gomod_dir,
    )
    compiled = _run_go_with_progress(spec, command)
    for name in spec.binaries:
        if not binary_reports_version(partial / name, spec):
            raise BuildError(
                f"{spec.name}: built {partial / name} but it does not report "
                f"{spec.version_marker!r} for `{' '.join(spec.version_args)}`"
            )
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    seconds = time.monotonic() - started
    record_build_time(root, spec, seconds, packages_compiled=compiled)
    log.info(
        "%s %s: built in %s -> %s", spec.name, spec.version, format_seconds(seconds), directory
    )
    return BuildResult(spec.name, spec.version, directory, True, seconds)


def crds_generated(spec: CrdSet, cache_root: Path | None = None) -> bool:
    """True when the cached CRD set was made by the pinned generator and has every file."""
    directory = component_dir(spec, cache_root)
    try:
        stamp = json.loads((directory / GENERATED_STAMP).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    tool = component(spec.generator)
    expected = {"version": spec.version, "generator": tool.name, "generator_version": tool.version}
    if any(stamp.get(key) != value for key, value in expected.items()):
        return False
    return all((directory / name).is_file() for name in spec.files)


def _generate_crds(spec: CrdSet, root: Path, *, force: bool) -> BuildResult:
    directory = component_dir(spec, root)
    started = time.monotonic()
    if not force and crds_generated(spec, root):
        log.info("%s %s: cached in %s", spec.name, spec.version, directory)
        return BuildResult(spec.name, spec.version, directory, False, time.monotonic() - started)
    tool = component(spec.generator)
    binary = component_dir(tool, root) / tool.binaries[0]
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [str(binary), *(arg.replace("{out}", str(partial)) for arg in spec.generator_args)]
    log.info("%s %s: generating with %s %s", spec.name, spec.version, tool.name, tool.version)
    try:
        completed = subprocess.run(
            command,
            cwd=spec.module_dir,
            capture_output=True,
            text=True,
            timeout=GENERATE_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BuildError(f"{spec.name}: `{' '.join(command)}` failed: {error}") from error
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-4000:]
        raise BuildError(
            f"{spec.name}: `{' '.join(command)}` failed ({completed.returncode}):\n{output}"
        )
    _keep_only(partial, spec.files)
    for name, crd in zip(spec.files, spec.crds, strict=True):
        check_crd_file(partial / name, crd)
    stamp = {
        "version": spec.version,
        "generator": tool.name,
        "generator_version": tool.version,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": [tool.binaries[0], *spec.generator_args],
    }
    (partial / GENERATED_STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    seconds = time.monotonic() - started
    record_build_time(root, spec, seconds)
    log.info(
        "%s %s: generated in %s -> %s", spec.name, spec.version, format_seconds(seconds), directory
    )
    return BuildResult(spec.name, spec.version, directory, True, seconds)


def _keep_only(directory: Path, names: tuple[str, ...]) -> None:
    """Drop what the generator wrote beyond the files we install (controller-gen writes every
    CRD of the API group)."""
    for path in directory.iterdir():
        if path.name not in names:
            path.unlink()


def check_crd_file(path: Path, name: str) -> None:
    """Fail unless ``path`` holds exactly one CustomResourceDefinition named ``name``."""
    if not path.is_file():
        raise BuildError(f"the generator did not write {path.name}")
    documents = [doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc]
    kinds = [(doc.get("kind"), doc.get("metadata", {}).get("name")) for doc in documents]
    if kinds != [("CustomResourceDefinition", name)]:
        raise BuildError(f"{path} should hold the CRD {name}, found {kinds}")


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _run_go_with_progress(spec: GoComponent, command: list[str]) -> int:
    """Run ``go build -v``, logging progress every few seconds (the output's tail on failure).

    Returns how many packages were compiled (not taken from Go's build cache): a cold build of
    Kubernetes compiles a few thousand, a warm one almost none.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=spec.gomod_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false"},
    )
    assert process.stdout is not None
    compiled = 0
    last_lines: list[str] = []
    last_package = ""
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(PROGRESS_INTERVAL_SECONDS):
            log.info(
                "%s: %s elapsed, %d packages compiled (latest: %s)",
                spec.name,
                format_seconds(time.monotonic() - started),
                compiled,
                last_package or "-",
            )

    reporter = threading.Thread(target=report, name=f"build-progress-{spec.name}", daemon=True)
    reporter.start()
    try:
        for raw_line in process.stdout:
            line = raw_line.rstrip()
            last_lines = [*last_lines[-39:], line]
            if line and " " not in line:
                compiled += 1
                last_package = line
            else:
                log.info("%s: go: %s", spec.name, line)
        returncode = process.wait()
    finally:
        stop.set()
        reporter.join()
    if returncode != 0:
        tail = "\n".join(last_lines)
        raise BuildError(f"{spec.name}: `{' '.join(command)}` failed ({returncode}):\n{tail}")
    return compiled


def record_build_time(
    root: Path,
    spec: _Versioned,
    seconds: float,
    *,
    packages_compiled: int | None = None,
    note: str = "",
) -> None:
    """Remember how long building ``spec`` took, for the README's cold-build figures."""
    path = root / BUILD_TIMES_FILE
    records = read_build_times(root)
    entry: dict[str, object] = {
        "version": spec.version,
        "seconds": round(seconds, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "go_version": _go_version(),
    }
    if packages_compiled is not None:
        entry["packages_compiled"] = packages_compiled
    if note:
        entry["note"] = note
    records[spec.name] = entry
    path.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")


def read_build_times(root: Path | None = None) -> dict[str, dict[str, object]]:
    path = (root or bin_cache_root()) / BUILD_TIMES_FILE
    try:
        loaded = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def _go_version() -> str:
    try:
        completed = subprocess.run(
            ["go", "env", "GOVERSION"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() or "unknown"


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One build at a time per cache (a CLI build and a test session may race)."""
    with (root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another build holds %s; waiting for it", root / ".build.lock")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
