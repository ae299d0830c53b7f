"""The Dockerfile reader the image tests rely on, on small samples."""

from __future__ import annotations

from tests.unit.dockerfile import (
    ImageReference,
    dockerignore_patterns,
    excluded_from_context,
    image_reference,
    parse_dockerfile,
)

SAMPLE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11-slim@sha256:abc
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN echo one \\
 # a comment inside a continued line
 && echo two
FROM $BASE
ENV A=1 \\
    PATH="/opt/x/bin:$PATH"
ENV LEGACY some value
LABEL org.example.title="it's here" org.example.n=2
COPY --from=build --chown=1:1 /opt/x /opt/x
ENTRYPOINT ["tini", "--"]
CMD serve --port 80
CMD ["run"]
"""


def test_stages_get_their_base_from_global_args() -> None:
    dockerfile = parse_dockerfile(SAMPLE)

    assert [(s.base, s.name) for s in dockerfile.stages] == [
        ("python:3.11-slim@sha256:abc", "build"),
        ("python:3.11-slim@sha256:abc", None),
    ]
    assert dockerfile.global_args == {"BASE": "python:3.11-slim@sha256:abc"}
    [run] = dockerfile.stages[0].all("RUN")
    assert run.split() == ["echo", "one", "&&", "echo", "two"]


def test_the_final_stage_environment_labels_and_copies() -> None:
    final = parse_dockerfile(SAMPLE).final

    assert final.env == {"A": "1", "PATH": "/opt/x/bin:$PATH", "LEGACY": "some value"}
    assert final.labels == {"org.example.title": "it's here", "org.example.n": "2"}
    [copy] = final.copies
    assert (copy.sources, copy.destination, copy.from_stage) == (("/opt/x",), "/opt/x", "build")


def test_the_last_cmd_wins_and_shell_form_runs_through_sh() -> None:
    final = parse_dockerfile(SAMPLE).final

    assert final.command("ENTRYPOINT") == ("tini", "--")
    assert final.command("CMD") == ("run",)
    assert parse_dockerfile("FROM x:1\nCMD serve --port 80\n").final.command("CMD") == (
        "/bin/sh",
        "-c",
        "serve --port 80",
    )
    assert parse_dockerfile("FROM x:1\n").final.command("ENTRYPOINT") is None


def test_image_references() -> None:
    assert image_reference("python:3.11-slim") == ImageReference("python", "3.11-slim", None)
    assert image_reference("registry:5000/a/b") == ImageReference("registry:5000/a/b", None, None)
    assert image_reference("a/b:1@sha256:ff") == ImageReference("a/b", "1", "sha256:ff")


def test_dockerignore_last_match_wins_and_directories_take_their_contents() -> None:
    patterns = dockerignore_patterns("# only the sources\n*\n!src/\n**/__pycache__\n")

    assert patterns == ["*", "!src/", "**/__pycache__"]
    assert excluded_from_context("docs/index.md", patterns)
    assert not excluded_from_context("src/app/main.py", patterns)
    assert excluded_from_context("src/app/__pycache__/main.pyc", patterns)
    assert excluded_from_context("__pycache__", patterns)
