"""Bucket versioning configuration documents."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.versioning import (
    VersioningStatus,
    parse_versioning,
    render_versioning,
)
from nimbus_storage.s3errors import IllegalVersioningConfiguration, MalformedXML
from nimbus_storage.s3errors import NotImplementedError_ as NotImplementedS3

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def body(inner: str) -> bytes:
    return f"<VersioningConfiguration {NS}>{inner}</VersioningConfiguration>".encode()


@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_status(status: str) -> None:
    assert parse_versioning(body(f"<Status>{status}</Status>")) == status


def test_mfa_delete_disabled_is_accepted() -> None:
    document = body("<Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>")
    assert parse_versioning(document) == "Enabled"


def test_mfa_delete_enabled_is_not_implemented() -> None:
    with pytest.raises(NotImplementedS3) as caught:
        parse_versioning(body("<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"))
    assert caught.value.code == "NotImplemented"
    assert caught.value.status == 501


@pytest.mark.parametrize("inner", ["", "<MfaDelete>Disabled</MfaDelete>"])
def test_missing_status_is_illegal_configuration(inner: str) -> None:
    with pytest.raises(IllegalVersioningConfiguration) as caught:
        parse_versioning(body(inner))
    assert caught.value.code == "IllegalVersioningConfigurationException"
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "document",
    [
        body("<Status>enabled</Status>"),
        body("<Status>Disabled</Status>"),
        body("<Status></Status>"),
        body("<Status>Enabled</Status><MfaDelete>On</MfaDelete>"),
        body("<Status>Enabled</Status><Other/>"),
        b"<Versioning><Status>Enabled</Status></Versioning>",
        b"",
        b"<VersioningConfiguration>",
    ],
)
def test_malformed(document: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_versioning(document)
    assert caught.value.code == "MalformedXML"


def test_render_never_versioned_is_empty() -> None:
    document = render_versioning(None)
    assert b"Status" not in document
    assert b"<VersioningConfiguration xmlns=" in document


@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_render_round_trips(status: VersioningStatus) -> None:
    document = render_versioning(status)
    assert f"<Status>{status}</Status>".encode() in document
    assert parse_versioning(document) == status
