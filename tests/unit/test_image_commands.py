"""Every program the chart and the operator's renderers start is in the image.

The image has no ENTRYPOINT: pods name their program. Nimbus's programs must be console
scripts of pyproject.toml (the image's venv has exactly those), anything else must come with
the base image, and every Nimbus command line rendered must be one its CLI accepts.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.dockerfile import parse_dockerfile
from tests.unit.helm.chart import FULL_VALUES, manifests
from tests.unit.operator.test_render_golden import RENDERERS

REPO = Path(__file__).resolve().parents[2]
SCRIPTS: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
CONSOLE_SCRIPTS = set(SCRIPTS)
# Programs of the base image (python:3.11-slim-bookworm) pods may start besides Nimbus's.
BASE_IMAGE_PROGRAMS = {
    "sh": "Debian's /bin/sh, for init containers that chain commands",
    "python": "the venv's interpreter, for the helm test's boto3 script",
}
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}
KUBELET_VARIABLE = re.compile(r"\$\((\w+)\)")


def containers(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = manifest.get("spec", {})
    pod_spec = spec.get("template", {}).get("spec", spec)
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec.get("containers", [])


def command_lines(command: list[str]) -> list[list[str]]:
    """The programs' command lines: ``$(VAR)`` expanded as the kubelet does (to a stand-in
    value), a ``sh -c`` script split at its operators."""
    command = [KUBELET_VARIABLE.sub(lambda match: match[1].lower(), word) for word in command]
    if command[:2] != ["sh", "-c"]:
        return [command]
    lexer = shlex.shlex(command[2], posix=True, punctuation_chars=True)
    lexer.whitespace_split = True  # words end at blanks and operators only
    lines: list[list[str]] = [[]]
    for word in lexer:
        if word in SHELL_OPERATORS:
            lines.append([])
        else:
            lines[-1].append(word)
    return [command, *(line for line in lines if line)]


def chart_command_lines(helm: Path) -> list[list[str]]:
    documents = manifests(helm, "--values", str(FULL_VALUES))
    return [
        line
        for document in documents
        for container in containers(document)
        for line in command_lines(container["command"])
    ]


def renderer_command_lines() -> list[list[str]]:
    return [
        line
        for render in RENDERERS.values()
        for container in containers(render())
        for line in command_lines(container["command"])
    ]


def test_the_chart_starts_only_console_scripts_and_base_image_programs(helm: Path) -> None:
    programs = {line[0] for line in chart_command_lines(helm)}

    assert "nimbus-operator" in programs
    assert programs <= CONSOLE_SCRIPTS | set(BASE_IMAGE_PROGRAMS)


def test_the_renderers_start_only_console_scripts_and_base_image_programs() -> None:
    programs = {line[0] for line in renderer_command_lines()}

    assert "nimbus-storage" in programs
    assert programs <= CONSOLE_SCRIPTS | set(BASE_IMAGE_PROGRAMS)


def test_the_images_default_command_is_a_console_script() -> None:
    cmd = parse_dockerfile((REPO / "Dockerfile").read_text()).final.command("CMD")
    assert cmd is not None
    assert cmd[0] in CONSOLE_SCRIPTS


def nimbus_command_lines(helm: Path) -> list[list[str]]:
    lines = [*chart_command_lines(helm), *renderer_command_lines()]
    unique = {tuple(line): line for line in lines if line[0] in CONSOLE_SCRIPTS}
    return list(unique.values())


class Parsed(Exception):
    """Raised instead of running the program, once its arguments are parsed."""


def entry_point(script: str) -> Callable[[list[str]], Any]:
    module, _, function = SCRIPTS[script].partition(":")
    main: Callable[[list[str]], Any] = getattr(importlib.import_module(module), function)
    return main


def test_every_nimbus_command_line_is_accepted_by_its_cli(
    helm: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        raise Parsed(parse_args(parser, *args, **kwargs))  # SystemExit(2) for a bad line

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    lines = nimbus_command_lines(helm)
    assert {line[0] for line in lines} == CONSOLE_SCRIPTS, "each console script is used"
    for line in lines:
        try:
            entry_point(line[0])(line[1:])
        except Parsed:
            continue
        except SystemExit:
            pytest.fail(f"{shlex.join(line)} refused:\n{capsys.readouterr().err}")
        pytest.fail(f"{shlex.join(line)} ran without parsing its arguments")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["nimbus-storage", "serve"], [["nimbus-storage", "serve"]]),
        (
            ["sh", "-c", "a x && b 'y z'; c --at=$(POD_IP):80"],
            [
                ["sh", "-c", "a x && b 'y z'; c --at=pod_ip:80"],
                ["a", "x"],
                ["b", "y z"],
                ["c", "--at=pod_ip:80"],
            ],
        ),
    ],
)
def test_command_lines_of_a_shell_script(command: list[str], expected: list[list[str]]) -> None:
    assert command_lines(command) == expected
