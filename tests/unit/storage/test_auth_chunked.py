"""aws-chunked decoding: signed chunks, signed and unsigned trailers, framing errors."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import crc32c
import pytest
from mypy_boto3_s3 import S3Client
from nimbus_storage.auth import chunked
from nimbus_storage.auth.chunked import AwsChunkedDecoder, decode_aws_chunked
from nimbus_storage.auth.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    AuthContext,
    authenticate,
)
from nimbus_storage.s3errors import (
    BadDigest,
    IncompleteBody,
    InvalidChecksum,
    InvalidRequest,
    MalformedTrailerError,
    SignatureDoesNotMatch,
)

from tests.unit.storage.test_auth_client import (
    ENDPOINT,
    SECRET_KEY,
    SIGNED_AT,
    BytesReader,
    ChunkSigner,
    capture,
    drain,
    lookup_secret,
    s3_client,
    sign_with_headers,
    signed_chunked_body,
    signing_key,
    unsigned_chunked_body,
)

CHUNKS = [b"a" * 100, b"b" * 64, b"c" * 7]
DATA = b"".join(CHUNKS)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def signed_context(payload_hash: str, headers: dict[str, str] | None = None) -> AuthContext:
    """Sign request headers with botocore (the seed signature) and verify them."""
    request = sign_with_headers(
        "PUT", f"{ENDPOINT}/bucket/key", headers=headers, payload_hash=payload_hash
    )
    ctx = authenticate(
        "PUT", request.raw_path, request.raw_query, request.headers, lookup_secret, SIGNED_AT
    )
    assert ctx is not None
    return ctx


def client_signer(ctx: AuthContext) -> ChunkSigner:
    return ChunkSigner(
        signing_key(SECRET_KEY, ctx.amz_date[:8]), ctx.amz_date, ctx.scope, ctx.seed_signature
    )


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the decoder hand data on in 16-byte slices, to exercise slicing and hold-back."""
    monkeypatch.setattr(chunked, "READ_SLICE", 16)


@pytest.fixture(scope="module")
def https_client() -> Iterator[S3Client]:
    # Over https botocore sends PutObject bodies as aws-chunked with a trailing checksum.
    s3 = s3_client("https://nimbus.test")
    yield s3
    s3.close()


async def test_aws_documented_chunked_example() -> None:
    # "Example: PUT Object" from the S3 "Transferring Payload in Multiple Chunks" documentation.
    headers = {
        "content-encoding": "aws-chunked",
        "content-length": "66824",
        "host": "s3.amazonaws.com",
        "x-amz-content-sha256": STREAMING_SIGNED,
        "x-amz-date": "20130524T000000Z",
        "x-amz-decoded-content-length": "66560",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3"
        "/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
        "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature="
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    }
    ctx = authenticate(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        headers,
        lambda _: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert ctx is not None
    body = (
        b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        b"\r\n" + b"a" * 65536 + b"\r\n"
        b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        b"\r\n" + b"a" * 1024 + b"\r\n"
        b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        b"\r\n\r\n"
    )
    assert len(body) == 66824
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED, None, decoded_length=66560
    )
    assert await drain(stream) == b"a" * 66560


@pytest.mark.usefixtures("small_slices")
async def test_signed_chunks_decode() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)
    received: list[bytes] = []
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED, None, decoded_length=len(DATA)
    )
    assert await drain(stream, received) == DATA
    assert max(len(piece) for piece in received) <= 16


async def test_signed_empty_body() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), [])
    assert await drain(decode_aws_chunked(BytesReader(body), ctx, STREAMING_SIGNED, None)) == b""


async def test_signed_body_without_final_crlf_is_tolerated() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS).removesuffix(b"\r\n")
    assert await drain(decode_aws_chunked(BytesReader(body), ctx, STREAMING_SIGNED, None)) == DATA


@pytest.mark.usefixtures("small_slices")
async def test_bad_chunk_signature_stops_before_the_chunk_is_handed_on() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)
    good_signature = body.split(b"chunk-signature=")[2][:64]
    body = body.replace(good_signature, b"f" * 64)
    received: list[bytes] = []
    with pytest.raises(SignatureDoesNotMatch):
        await drain(decode_aws_chunked(BytesReader(body), ctx, STREAMING_SIGNED, None), received)
    # The first chunk was verified and passed on; the bad second chunk's tail never was.
    assert b"".join(received).startswith(CHUNKS[0])
    assert len(b"".join(received)) < len(CHUNKS[0]) + len(CHUNKS[1])


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body: body.replace(b"b" * 64, b"b" * 63 + b"B"), id="data"),
        pytest.param(lambda body: body.replace(b";chunk-signature=", b";x=", 1), id="missing-sig"),
        pytest.param(
            lambda body: body[: body.rindex(b"0;chunk-signature=") + 18] + b"0" * 64 + b"\r\n\r\n",
            id="final-chunk-signature",
        ),
    ],
)
async def test_tampered_signed_body_fails(tamper: object) -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)
    assert callable(tamper)
    with pytest.raises(SignatureDoesNotMatch):
        await drain(decode_aws_chunked(BytesReader(tamper(body)), ctx, STREAMING_SIGNED, None))


async def test_dropped_chunk_breaks_the_signature_chain() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    signer = client_signer(ctx)
    first = signed_chunked_body(signer, CHUNKS[:1])
    # A body whose chunks were signed in a different chain (as if one chunk had been dropped).
    rest = signed_chunked_body(client_signer(ctx), CHUNKS[1:])
    spliced = first[: first.rindex(b"0;chunk-signature=")] + rest
    with pytest.raises(SignatureDoesNotMatch):
        await drain(decode_aws_chunked(BytesReader(spliced), ctx, STREAMING_SIGNED, None))


@pytest.mark.parametrize("cut", [10, 120, 200, -3])
async def test_truncated_signed_body(cut: int) -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)[:cut]
    with pytest.raises(IncompleteBody):
        await drain(decode_aws_chunked(BytesReader(body), ctx, STREAMING_SIGNED, None))


async def test_decoded_length_larger_than_body() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED, None, decoded_length=len(DATA) + 1
    )
    with pytest.raises(IncompleteBody, match="x-amz-decoded-content-length"):
        await drain(stream)


async def test_decoded_length_smaller_than_body() -> None:
    ctx = signed_context(STREAMING_SIGNED)
    body = signed_chunked_body(client_signer(ctx), CHUNKS)
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED, None, decoded_length=len(DATA) - 1
    )
    received: list[bytes] = []
    with pytest.raises(InvalidRequest, match="exceeds"):
        await drain(stream, received)
    assert len(b"".join(received)) < len(DATA)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"zz\r\nab\r\n0\r\n\r\n", id="non-hex-size"),
        pytest.param(b"2\r\nabc\r\n0\r\n\r\n", id="chunk-longer-than-size"),
        pytest.param(b"2\nab\r\n0\r\n\r\n", id="bare-lf"),
        pytest.param(b"2\r\n\xff\xfe\r\n0\r\n\xff:1\r\n\r\n", id="non-ascii-trailer"),
        pytest.param(b"%x\r\n" % 10**20, id="size-too-long"),
    ],
)
async def test_bad_framing(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        await drain(decode_aws_chunked(BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, None))


async def test_signed_variants_need_a_signed_request() -> None:
    with pytest.raises(InvalidRequest, match="signed"):
        decode_aws_chunked(BytesReader(b""), None, STREAMING_SIGNED, None)
    with pytest.raises(ValueError, match="aws-chunked"):
        decode_aws_chunked(BytesReader(b""), None, "UNSIGNED-PAYLOAD", None)


# --- signed trailer ---


def crc32c_b64(data: bytes) -> str:
    return b64(crc32c.crc32c(data).to_bytes(4, "big"))


async def test_signed_trailer_verifies() -> None:
    ctx = signed_context(STREAMING_SIGNED_TRAILER, {"X-Amz-Trailer": "x-amz-checksum-crc32c"})
    trailers = {"x-amz-checksum-crc32c": crc32c_b64(DATA)}
    body = signed_chunked_body(client_signer(ctx), CHUNKS, trailers)
    decoder = AwsChunkedDecoder(
        BytesReader(body), ctx, STREAMING_SIGNED_TRAILER, "x-amz-checksum-crc32c"
    )
    assert await drain(decoder) == DATA
    assert decoder.trailers == trailers
    assert decoder.checksum_algorithm == "CRC32C"
    assert decoder.checksum_b64 == crc32c_b64(DATA)


async def test_signed_trailer_with_bad_signature() -> None:
    ctx = signed_context(STREAMING_SIGNED_TRAILER, {"X-Amz-Trailer": "x-amz-checksum-crc32c"})
    body = signed_chunked_body(
        client_signer(ctx), CHUNKS, {"x-amz-checksum-crc32c": crc32c_b64(DATA)}
    )
    # Swap the (correct) checksum for another valid-looking one: the trailer signature breaks.
    body = body.replace(crc32c_b64(DATA).encode(), crc32c_b64(b"other").encode())
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED_TRAILER, "x-amz-checksum-crc32c"
    )
    with pytest.raises(SignatureDoesNotMatch):
        await drain(stream)


async def test_signed_trailer_with_wrong_but_signed_checksum() -> None:
    ctx = signed_context(STREAMING_SIGNED_TRAILER, {"X-Amz-Trailer": "x-amz-checksum-crc32c"})
    body = signed_chunked_body(
        client_signer(ctx), CHUNKS, {"x-amz-checksum-crc32c": crc32c_b64(b"other")}
    )
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED_TRAILER, "x-amz-checksum-crc32c"
    )
    with pytest.raises(BadDigest, match="CRC32C you specified did not match"):
        await drain(stream)


async def test_signed_trailer_missing_its_signature() -> None:
    ctx = signed_context(STREAMING_SIGNED_TRAILER, {"X-Amz-Trailer": "x-amz-checksum-crc32c"})
    body = signed_chunked_body(
        client_signer(ctx), CHUNKS, {"x-amz-checksum-crc32c": crc32c_b64(DATA)}
    )
    body = body[: body.index(b"x-amz-trailer-signature")] + b"\r\n"
    stream = decode_aws_chunked(
        BytesReader(body), ctx, STREAMING_SIGNED_TRAILER, "x-amz-checksum-crc32c"
    )
    with pytest.raises(SignatureDoesNotMatch):
        await drain(stream)


# --- unsigned trailer ---


TRAILER_CASES = [
    ("crc32", crc32_b64(DATA)),
    ("crc32c", crc32c_b64(DATA)),
    ("sha256", b64(hashlib.sha256(DATA).digest())),
    ("sha1", b64(hashlib.sha1(DATA).digest())),
]


@pytest.mark.parametrize(("algorithm", "value"), TRAILER_CASES)
async def test_unsigned_trailer_good(algorithm: str, value: str) -> None:
    name = f"x-amz-checksum-{algorithm}"
    body = unsigned_chunked_body(CHUNKS, {name: value})
    decoder = AwsChunkedDecoder(BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, name)
    assert await drain(decoder) == DATA
    assert decoder.trailers == {name: value}
    assert decoder.checksum_b64 == value


async def test_unsigned_trailer_crc64nvme_matches_its_own_computation() -> None:
    from nimbus_storage.auth.crc64nvme import crc64nvme

    value = b64(crc64nvme(DATA).to_bytes(8, "big"))
    body = unsigned_chunked_body(CHUNKS, {"x-amz-checksum-crc64nvme": value})
    decoder = AwsChunkedDecoder(
        BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc64nvme"
    )
    assert await drain(decoder) == DATA
    assert decoder.checksum_b64 == value


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "sha256", "sha1", "crc64nvme"])
async def test_unsigned_trailer_bad_checksum(algorithm: str) -> None:
    name = f"x-amz-checksum-{algorithm}"
    wrong = dict(TRAILER_CASES)["sha1" if algorithm != "sha1" else "sha256"]
    size = {"crc32": 4, "crc32c": 4, "sha256": 32, "sha1": 20, "crc64nvme": 8}[algorithm]
    value = b64(base64.b64decode(wrong)[:size].ljust(size, b"\0"))
    body = unsigned_chunked_body(CHUNKS, {name: value})
    received: list[bytes] = []
    stream = decode_aws_chunked(BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, name)
    with pytest.raises(BadDigest, match=f"The {algorithm.upper()} you specified did not match"):
        await drain(stream, received)
    assert b"".join(received) != DATA  # the last piece was held back


@pytest.mark.parametrize(
    ("trailers", "error"),
    [
        pytest.param(
            {"x-amz-checksum-sha1": TRAILER_CASES[3][1]}, MalformedTrailerError, id="other-name"
        ),
        pytest.param(
            {"x-amz-checksum-crc32": crc32_b64(DATA), "x-amz-meta-extra": "1"},
            MalformedTrailerError,
            id="undeclared",
        ),
        pytest.param({"x-amz-checksum-crc32": "not base64!"}, InvalidChecksum, id="malformed"),
        pytest.param({"x-amz-checksum-crc32": "AAAA"}, InvalidChecksum, id="wrong-length"),
        pytest.param(
            {"x-amz-checksum-crc32": crc32_b64(DATA), "x-amz-trailer-signature": "0" * 64},
            MalformedTrailerError,
            id="signature-on-unsigned",
        ),
    ],
)
async def test_unsigned_trailer_malformed(trailers: dict[str, str], error: type[Exception]) -> None:
    body = unsigned_chunked_body(CHUNKS, trailers)
    stream = decode_aws_chunked(
        BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc32"
    )
    with pytest.raises(error):
        await drain(stream)


@pytest.mark.parametrize("trailer_part", [b"", b"\r\n"])
async def test_unsigned_trailer_truncated_before_trailers(trailer_part: bytes) -> None:
    body = unsigned_chunked_body(CHUNKS, {"x-amz-checksum-crc32": crc32_b64(DATA)})
    body = body[: body.index(b"x-amz-checksum")] + trailer_part
    stream = decode_aws_chunked(
        BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc32"
    )
    with pytest.raises(IncompleteBody):
        await drain(stream)


async def test_empty_line_before_trailers_is_tolerated() -> None:
    body = unsigned_chunked_body(CHUNKS, {"x-amz-checksum-crc32": crc32_b64(DATA)})
    body = body.replace(b"0\r\nx-amz", b"0\r\n\r\nx-amz")
    stream = decode_aws_chunked(
        BytesReader(body), None, STREAMING_UNSIGNED_TRAILER, "x-amz-checksum-crc32"
    )
    assert await drain(stream) == DATA


def test_two_trailing_checksums_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="single x-amz-checksum"):
        AwsChunkedDecoder(
            BytesReader(b""),
            None,
            STREAMING_UNSIGNED_TRAILER,
            "x-amz-checksum-crc32, x-amz-checksum-sha1",
        )


# (botocore needs its optional CRT extra for CRC32C and CRC64NVME.)
@pytest.mark.parametrize("algorithm", [None, "CRC32", "SHA256", "SHA1"])
async def test_boto3_put_object_body_decodes(https_client: S3Client, algorithm: str | None) -> None:
    data = bytes(range(256)) * 40
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    request = capture(
        https_client,
        lambda s3: s3.put_object(Bucket="bucket", Key="k y", Body=data, **extra),  # type: ignore[arg-type]
    )
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["x-amz-content-sha256"] == STREAMING_UNSIGNED_TRAILER
    ctx = authenticate(
        "PUT", request.raw_path, request.raw_query, request.headers, lookup_secret, SIGNED_AT
    )
    assert ctx is not None
    decoder = AwsChunkedDecoder(
        BytesReader(request.body),
        ctx,
        ctx.payload_hash,
        headers["x-amz-trailer"],
        decoded_length=int(headers["x-amz-decoded-content-length"]),
    )
    assert await drain(decoder) == data
    assert decoder.checksum_algorithm == (algorithm or "CRC32")
    assert decoder.trailers[headers["x-amz-trailer"]] == decoder.checksum_b64
