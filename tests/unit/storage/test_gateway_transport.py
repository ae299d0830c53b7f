"""SSE-C only over a secure connection (gateway/transport.py): which requests bring an SSE-C
key, when a connection counts as secure, the error AWS answers otherwise, and the TLS context
of ``--tls-cert`` / ``--tls-key``."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.transport import (
    INSECURE_CUSTOMER_KEY_MESSAGE,
    TlsFilesInvalid,
    forwarded_https,
    is_secure,
    refuse_insecure_customer_key,
    server_ssl_context,
)
from nimbus_storage.s3errors import InvalidRequest
from nimbus_storage.sse.keys import requests_customer_key

from tests.support.tls import TlsFiles, make_tls_files

CUSTOMER_HEADERS = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "X-Amz-Server-Side-Encryption-Customer-Key-MD5",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "X-AMZ-COPY-SOURCE-SERVER-SIDE-ENCRYPTION-CUSTOMER-KEY",
    "x-amz-copy-source-server-side-encryption-customer-key-MD5",
]
OTHER_HEADERS = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-copy-source",
    "x-forwarded-proto",
]


@pytest.mark.parametrize("header", CUSTOMER_HEADERS)
def test_any_one_customer_key_header_asks_for_sse_c(header: str) -> None:
    """One of the three headers is enough (a half-sent key is still a key sent in clear)."""
    assert requests_customer_key({header: "x"})
    assert requests_customer_key(CIMultiDict({header: "x", "Host": "h"}))


@pytest.mark.parametrize("header", OTHER_HEADERS)
def test_other_headers_do_not(header: str) -> None:
    assert not requests_customer_key({header: "AES256"})
    assert not requests_customer_key({})


@pytest.mark.parametrize("header", CUSTOMER_HEADERS)
def test_refused_over_plain_http_with_the_aws_error(header: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        refuse_insecure_customer_key(CIMultiDict({header: "AES256"}), secure=False)
    error = refused.value
    assert (error.status, error.code, error.message) == (
        400,
        "InvalidRequest",
        "Requests specifying Server Side Encryption with Customer provided keys must be made"
        " over a secure connection.",
    )
    assert error.message == INSECURE_CUSTOMER_KEY_MESSAGE


@pytest.mark.parametrize("header", CUSTOMER_HEADERS)
def test_accepted_over_a_secure_connection(header: str) -> None:
    refuse_insecure_customer_key(CIMultiDict({header: "AES256"}), secure=True)


@pytest.mark.parametrize("header", OTHER_HEADERS)
def test_requests_without_a_customer_key_pass_over_plain_http(header: str) -> None:
    refuse_insecure_customer_key(CIMultiDict({header: "AES256"}), secure=False)


def test_form_fields_count_as_headers() -> None:
    """A browser upload's fields (lower-case names, gateway/post_form.py)."""
    fields = {"key": "k", "x-amz-server-side-encryption-customer-algorithm": "AES256"}
    with pytest.raises(InvalidRequest):
        refuse_insecure_customer_key(fields, secure=False)
    refuse_insecure_customer_key(
        {"key": "k", "x-amz-server-side-encryption": "AES256"}, secure=False
    )


@pytest.mark.parametrize(
    ("values", "https"),
    [
        (["https"], True),
        (["HTTPS "], True),
        (["http"], False),
        ([], False),
        ([""], False),
        (["http, https"], True),  # the proxy next to the gateway appended https
        (["https, http"], False),  # a client's https, then a hop that was plain
        (["https", "http"], False),  # two header lines: the last one counts
        (["http", "https"], True),
        (["wss"], False),
    ],
)
def test_forwarded_proto_counts_its_last_value(values: list[str], https: bool) -> None:
    assert forwarded_https(values) is https


def _config(trust: bool) -> GatewayConfig:
    return GatewayConfig(Path("unused"), trust_forwarded_proto=trust)


@pytest.mark.parametrize(
    ("tls", "trust", "proto", "secure"),
    [
        (True, False, None, True),  # TLS on the gateway's own listener
        (True, True, "http", True),
        (False, False, None, False),
        (False, False, "https", False),  # untrusted: any client can send it
        (False, True, "https", True),
        (False, True, "http", False),
        (False, True, None, False),
    ],
)
def test_a_secure_connection(tls: bool, trust: bool, proto: str | None, secure: bool) -> None:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    http = make_mocked_request(
        "PUT",
        "/b/k",
        headers=CIMultiDict(headers),
        sslcontext=ssl.create_default_context() if tls else None,
    )
    assert is_secure(http, _config(trust)) is secure


# --- the TLS listener's files -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def test_no_files_no_tls() -> None:
    assert server_ssl_context(None, None) is None


def test_a_certificate_and_its_key_load(tls: TlsFiles) -> None:
    context = server_ssl_context(tls.cert, tls.key)
    assert context is not None
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.verify_mode is ssl.CERT_NONE  # no client certificates asked


def test_one_file_alone_is_refused(tls: TlsFiles) -> None:
    for cert, key in ((tls.cert, None), (None, tls.key)):
        with pytest.raises(TlsFilesInvalid, match="give both or neither"):
            server_ssl_context(cert, key)


def test_a_missing_file_is_named(tls: TlsFiles, tmp_path: Path) -> None:
    with pytest.raises(TlsFilesInvalid, match="no such file"):
        server_ssl_context(tmp_path / "absent.pem", tls.key)


def test_files_that_do_not_load_are_refused(tls: TlsFiles, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsFilesInvalid, match="do not load"):
        server_ssl_context(garbage, tls.key)
    other = make_tls_files(tmp_path / "other")
    with pytest.raises(TlsFilesInvalid, match="do not load"):
        server_ssl_context(tls.cert, other.key)  # a key that is not the certificate's
