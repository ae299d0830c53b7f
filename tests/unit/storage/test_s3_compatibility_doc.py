"""docs/s3-compatibility.md: its "Operation index" and "Header families" tables, checked against
the router, the operation table, the handlers, the gateway's source and botocore's S3 model."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

import botocore.session
import nimbus_storage
import pytest
from botocore.model import OperationModel
from multidict import CIMultiDict, CIMultiDictProxy
from nimbus_storage.auth.checksums import ALGORITHMS, header_algorithm
from nimbus_storage.gateway.encryption import refuse_encryption
from nimbus_storage.gateway.operation import S3Operation
from nimbus_storage.gateway.operations import OPERATIONS
from nimbus_storage.gateway.refused_headers import REFUSED_BY_OPERATION, refuse_headers
from nimbus_storage.gateway.routing import UNSUPPORTED_SUBRESOURCES, resolve_operation, scope_of
from nimbus_storage.s3errors import InvalidRequest, MethodNotAllowed, NotImplementedError_

DOC = Path(__file__).resolve().parents[3] / "docs" / "s3-compatibility.md"
# What the gateway reads of a request: the gateway itself, and below it the authentication, the
# server-side encryption (SSE headers) and the bucket configuration (Object Lock headers).
SOURCE_DIRS = [
    Path(nimbus_storage.__file__).parent / name
    for name in ("gateway", "auth", "sse", "bucket_config")
]
BY_NAME = {operation.name: operation for operation in OPERATIONS}
OPERATION_STATES = re.compile(r"yes|501|405|as [A-Za-z0-9]+")
HEADER_STATES = frozenset({"yes", "501", "400", "ignored"})
# x-amz-checksum-* headers that carry no checksum value (see auth/checksums.py).
NOT_CHECKSUM_VALUES = frozenset({"mode", "type", "algorithm"})
# The value a ``+ header`` of a row is sent with, when its name alone does not select (any
# other header is given a copy source's value).
HEADER_VALUES = {"content-type": "multipart/form-data; boundary=b"}
REQUEST = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>/[^?\s]*)(?:\?(?P<query>\S+))?(?P<headers>(?: \+ [\w-]+)*)"
)


# --- the document -----------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Request:
        """``PUT /bucket/key?partNumber=1&uploadId=u + x-amz-copy-source``."""
        match = REQUEST.fullmatch(text)
        assert match is not None, f"not a request: {text!r}"
        bucket, _, key = match["path"][1:].partition("/")
        query = dict(parse_qsl(match["query"] or "", keep_blank_values=True))
        headers = tuple(re.findall(r" \+ ([\w-]+)", match["headers"]))
        return cls(match["method"], bucket, key, query, headers)

    @property
    def path(self) -> str:
        if not self.bucket:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"

    def resolve(self) -> S3Operation:
        values = {name: HEADER_VALUES.get(name.lower(), "/source/key") for name in self.headers}
        headers = CIMultiDictProxy(CIMultiDict(values))
        return resolve_operation(self.method, self.bucket, self.key, self.query, headers)

    def outcome(self) -> str:
        """The operation's name, or the router's refusal as its status."""
        try:
            return self.resolve().name
        except NotImplementedError_:
            return "501"
        except MethodNotAllowed:
            return "405"


@dataclass(frozen=True)
class OperationRow:
    name: str
    request_text: str
    state: str
    note: str

    @property
    def request(self) -> Request:
        return Request.parse(self.request_text)


@dataclass(frozen=True)
class HeaderRow:
    headers: tuple[str, ...]
    state: str
    note: str


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table(title: str) -> list[list[str]]:
    """The cells of the section's table, header and separator rows left out."""
    lines = [line for line in _section(title).splitlines() if line.startswith("|")]
    assert len(lines) > 2, f"no table under {title!r}"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _code(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


@cache
def operation_rows() -> tuple[OperationRow, ...]:
    rows = []
    for cells in _table("Operation index"):
        assert len(cells) == 4, cells
        name, request, state, note = cells
        (request_text,) = _code(request)
        rows.append(OperationRow(name, request_text, state, note))
    return tuple(rows)


@cache
def header_rows() -> tuple[HeaderRow, ...]:
    rows = []
    for cells in _table("Header families"):
        assert len(cells) == 3, cells
        headers, state, note = cells
        rows.append(HeaderRow(tuple(_code(headers)), state, note))
    return tuple(rows)


def rows_by_name() -> dict[str, OperationRow]:
    return {row.name: row for row in operation_rows()}


def rows_in_state(state: str) -> list[OperationRow]:
    return [row for row in operation_rows() if row.state == state]


def _id(row: OperationRow) -> str:
    return row.name


# --- the operation index ----------------------------------------------------------------------


def test_operation_rows_are_well_formed_and_unique() -> None:
    rows = operation_rows()
    assert len(rows) > 100
    twice = [name for name, count in Counter(row.name for row in rows).items() if count > 1]
    assert twice == []
    for row in rows:
        assert OPERATION_STATES.fullmatch(row.state), row
        row.request.outcome()  # parses and routes (or is refused) without any other error


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_operation_of_the_table_has_its_row_routing_to_it(operation: S3Operation) -> None:
    row = rows_by_name().get(operation.name)
    assert row is not None, f"{operation.name} has no row"
    assert row.state == "yes"
    assert row.request.resolve() is operation


def test_every_yes_row_is_an_operation_of_the_table() -> None:
    assert [row.name for row in rows_in_state("yes") if row.name not in BY_NAME] == []


@pytest.mark.parametrize("row", rows_in_state("501"), ids=_id)
def test_501_rows_are_refused_by_the_router(row: OperationRow) -> None:
    assert row.name not in BY_NAME
    with pytest.raises(NotImplementedError_) as caught:
        row.request.resolve()
    assert (caught.value.status, caught.value.code) == (501, "NotImplemented")


@pytest.mark.parametrize("row", rows_in_state("405"), ids=_id)
def test_405_rows_are_refused_by_the_router(row: OperationRow) -> None:
    assert row.name not in BY_NAME
    with pytest.raises(MethodNotAllowed) as caught:
        row.request.resolve()
    assert (caught.value.status, caught.value.code) == (405, "MethodNotAllowed")


@pytest.mark.parametrize(
    "row", [row for row in operation_rows() if row.state.startswith("as ")], ids=_id
)
def test_as_rows_are_answered_by_the_operation_they_name(row: OperationRow) -> None:
    answered_by = row.state.removeprefix("as ")
    assert row.name not in BY_NAME
    assert rows_by_name()[answered_by].state == "yes"
    assert row.request.outcome() == answered_by


def test_every_unsupported_subresource_is_in_a_501_row() -> None:
    covered = {
        (scope_of(row.request.bucket, row.request.key), name)
        for row in rows_in_state("501")
        for name in row.request.query
    }
    missing = [
        (scope.value, name)
        for scope, names in UNSUPPORTED_SUBRESOURCES.items()
        for name in sorted(names)
        if (scope, name) not in covered
    ]
    assert missing == []


def test_not_supported_section_names_every_refused_and_unrecognised_subresource() -> None:
    section = _section("Not supported")
    names = set().union(*UNSUPPORTED_SUBRESOURCES.values())
    gaps = [row for row in operation_rows() if row.state.startswith("as ") and "gap" in row.note]
    names |= {next(iter(row.request.query)) for row in gaps}
    assert sorted(name for name in names if f"`{name}`" not in section) == []


# --- against botocore's model of S3 (every operation its clients can send) --------------------


def _s3_model_operations() -> list[OperationModel]:
    model = botocore.session.get_session().get_service_model("s3")
    return [model.operation_model(name) for name in model.operation_names]


def _model_path(request_uri: str) -> str:
    path = request_uri.partition("?")[0]
    return path.replace("{Bucket}", "bucket").replace("{Key+}", "key")


def _members(operation: OperationModel, location: str) -> dict[str, bool]:
    """The request's members at ``location`` (``querystring``, ``header``, ``headers``) by
    wire name (a ``headers`` prefix ends in ``*``), each with whether it is required."""
    shape = operation.input_shape
    if shape is None:
        return {}
    found: dict[str, bool] = {}
    for member_name, member in shape.members.items():
        if member.serialization.get("location") == location:
            wire_name = member.serialization.get("name", member_name)
            if location == "headers":
                wire_name += "*"
            found[wire_name] = member_name in shape.required_members
    return found


@pytest.mark.parametrize("operation", _s3_model_operations(), ids=lambda operation: operation.name)
def test_every_operation_of_the_s3_model_has_a_row_of_its_http_shape(
    operation: OperationModel,
) -> None:
    row = rows_by_name().get(operation.name)
    assert row is not None, f"{operation.name} has no row"
    request = row.request
    request_uri = operation.http["requestUri"]
    assert request.method == operation.http["method"]
    assert request.path == _model_path(request_uri)
    for name, value in parse_qsl(request_uri.partition("?")[2], keep_blank_values=True):
        assert request.query.get(name) == value
    required = [name for name, needed in _members(operation, "querystring").items() if needed]
    assert [name for name in required if name not in request.query] == []
    headers = {name.lower() for name in _members(operation, "header")}
    assert [name for name in request.headers if name.lower() not in headers] == []


# --- header families --------------------------------------------------------------------------


def _instance(pattern: str) -> str:
    """A header of the family ``pattern`` names."""
    return pattern.replace("*", "x")


def _matches(pattern: str, header: str) -> bool:
    pattern, header = pattern.lower(), header.lower()
    if pattern.endswith("*"):
        return header.startswith(pattern[:-1])
    return header == pattern


@cache
def _gateway_source() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8").lower()
        for directory in SOURCE_DIRS
        for path in sorted(directory.rglob("*.py"))
    )


def _mentioned(pattern: str) -> bool:
    return pattern.replace("*", "").lower() in _gateway_source()


def _checksum_algorithm(header: str) -> str | None:
    """``x-amz-checksum-crc32`` -> ``CRC32``; None for other headers and non-value ones."""
    suffix = header.lower().removeprefix("x-amz-checksum-")
    if suffix == header.lower() or suffix in NOT_CHECKSUM_VALUES:
        return None
    return suffix.upper()


def headers_in_state(state: str) -> list[str]:
    return [header for row in header_rows() if row.state == state for header in row.headers]


def test_header_rows_are_well_formed() -> None:
    assert len(header_rows()) > 20
    for row in header_rows():
        assert row.headers, row
        assert row.state in HEADER_STATES, row


def _refused_header(operation: str, header: str) -> str | None:
    """The header ``refuse_headers`` names when ``operation`` is asked with ``header``."""
    try:
        refuse_headers(operation, [header])
    except NotImplementedError_ as error:
        return error.extra["Header"]
    return None


@pytest.mark.parametrize("header", headers_in_state("501"))
def test_501_headers_are_refused(header: str) -> None:
    instance = _instance(header)
    try:
        refuse_encryption("PutObject", CIMultiDict({instance: "v"}))
    except NotImplementedError_:
        return
    # Not an SSE header: refused as soon as the request is routed, by every operation or by
    # the operations it names a condition of.
    refusing = [
        operation
        for operation in ["PutObject", *REFUSED_BY_OPERATION]
        if _refused_header(operation, instance) == instance.lower()
    ]
    assert refusing, f"{instance} is refused by no operation"


@pytest.mark.parametrize("header", headers_in_state("yes"))
def test_yes_headers_are_read_by_the_gateway(header: str) -> None:
    algorithm = _checksum_algorithm(header)
    if algorithm is not None:
        assert algorithm in ALGORITHMS
    else:
        assert _mentioned(header)


@pytest.mark.parametrize("header", headers_in_state("400"))
def test_400_headers_are_refused_by_the_gateway(header: str) -> None:
    if _checksum_algorithm(header) is not None:
        with pytest.raises(InvalidRequest):
            header_algorithm(CIMultiDict({header: "AAAAAA=="}))
    else:
        assert _mentioned(header)


@pytest.mark.parametrize("header", headers_in_state("ignored"))
def test_ignored_headers_are_read_nowhere(header: str) -> None:
    if header in headers_in_state("yes"):  # honoured by some operations, ignored by others
        return
    assert not _mentioned(header)


def test_every_checksum_algorithm_is_a_yes_header() -> None:
    listed = {_checksum_algorithm(header) for header in headers_in_state("yes")}
    assert sorted(set(ALGORITHMS) - listed) == []


def test_every_header_of_an_operation_reaching_a_handler_has_a_row() -> None:
    refused = {row.name for row in operation_rows() if row.state in ("501", "405")}
    patterns = [header for row in header_rows() for header in row.headers]
    missing = sorted(
        {
            header
            for operation in _s3_model_operations()
            if operation.name not in refused
            for location in ("header", "headers")
            for header in _members(operation, location)
            if not any(_matches(pattern, header) for pattern in patterns)
        }
    )
    assert missing == []
