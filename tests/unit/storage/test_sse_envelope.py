"""The envelope stored with an encrypted object: encode, parse strictly (a corrupted envelope is
an error, never a crash); the SSE headers of a write; keeping and opening data keys for each
kind; response headers and ETags; and a whole PUT then ranged GET through the package."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import random
from collections.abc import AsyncIterable, AsyncIterator, Mapping

import pytest
from nimbus_storage.sse import envelope as env
from nimbus_storage.sse.envelope import (
    Envelope,
    KeySeal,
    Kind,
    SseRequest,
    StreamParams,
    etag_for,
    is_encrypted,
    open_data_key,
    parse_sse_request,
    reseal_data_key,
    response_headers,
    rotate_seal,
    seal_new_key,
)
from nimbus_storage.sse.errors import (
    BucketKeyEnabledInvalid,
    CustomerKeyInvalid,
    CustomerKeyMismatch,
    CustomerKeyNotApplicable,
    CustomerKeyRequired,
    EncryptionContextInvalid,
    EncryptionError,
    EncryptionMethodsConflict,
    EncryptionMethodUnsupported,
    EncryptionNotConfigured,
    EnvelopeInvalid,
    KeyUnavailable,
    KmsKeyIdWithoutKms,
    KmsKeyNotFound,
    WrappedKeyInvalid,
)
from nimbus_storage.sse.keys import CustomerKey, KeyContext, customer_key_from_bytes
from nimbus_storage.sse.keystore import KeyStore
from nimbus_storage.sse.segments import SegmentEncryptor, decrypt_range

M1, M2, M3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
CONTEXT = KeyContext("bucket", "photos/cat.jpg")
CUSTOMER = customer_key_from_bytes(b"C" * 32)
OTHER_CUSTOMER = customer_key_from_bytes(b"D" * 32)
KMS_CONTEXT = {"department": "finance", "project": "x"}


def keystore() -> KeyStore:
    return KeyStore({"sse-s3": {1: M1}, "tenant-a": {1: M2}}, "sse-s3")


def context_header(context: Mapping[str, object]) -> str:
    return base64.b64encode(json.dumps(context).encode()).decode()


def sse_c_headers(customer: CustomerKey = CUSTOMER) -> dict[str, str]:
    prefix = "x-amz-server-side-encryption-customer-"
    return {
        prefix + "algorithm": "AES256",
        prefix + "key": base64.b64encode(customer.key).decode(),
        prefix + "key-MD5": customer.key_md5,
    }


REQUESTS = {
    "sse-c": SseRequest(Kind.SSE_C, customer=CUSTOMER),
    "sse-s3": SseRequest.sse_s3(),
    "sse-kms": SseRequest.sse_kms("tenant-a"),
    "sse-kms-context": SseRequest(Kind.SSE_KMS, "tenant-a", KMS_CONTEXT),
    "sse-kms-default": SseRequest.sse_kms(),
}


def customer_of(request: SseRequest) -> CustomerKey | None:
    return request.customer


def sealed(name: str) -> tuple[KeySeal, bytes]:
    return seal_new_key(REQUESTS[name], CONTEXT, keystore())


def stream() -> StreamParams:
    return StreamParams(b"\x07" * 8, 65536, 1_000_000)


# --- keeping and opening data keys ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_kind_seals_and_opens_its_data_key(name: str) -> None:
    request = REQUESTS[name]
    seal, data_key = sealed(name)
    assert seal.kind is request.kind
    assert open_data_key(seal, CONTEXT, keystore(), customer_of(request)) == data_key
    parsed = KeySeal.from_meta(seal.to_meta())
    assert parsed == seal
    assert parsed is not None
    assert open_data_key(parsed, CONTEXT, keystore(), customer_of(request)) == data_key


def test_what_each_kind_stores() -> None:
    s3, _ = sealed("sse-s3")
    assert (s3.key_id, s3.key_version, s3.customer_salt, s3.encryption_context) == (
        "sse-s3",
        1,
        None,
        None,
    )
    kms, _ = sealed("sse-kms-context")
    assert (kms.key_id, kms.encryption_context) == ("tenant-a", KMS_CONTEXT)
    assert sealed("sse-kms-default")[0].key_id == "sse-s3"
    customer, _ = sealed("sse-c")
    assert customer.key_id is None
    meta = customer.to_meta()
    assert set(meta) == {
        env.FORMAT,
        env.KIND,
        env.WRAPPED,
        env.CUSTOMER_SALT,
        env.CUSTOMER_VERIFIER,
    }
    stored = json.dumps(meta)
    assert base64.b64encode(CUSTOMER.key).decode() not in stored
    assert CUSTOMER.key_md5 not in stored  # not even the client's MD5 of its key


def test_reading_an_sse_c_object_takes_its_key() -> None:
    seal, data_key = sealed("sse-c")
    with pytest.raises(CustomerKeyRequired):
        open_data_key(seal, CONTEXT, keystore())
    with pytest.raises(CustomerKeyMismatch):
        open_data_key(seal, CONTEXT, keystore(), OTHER_CUSTOMER)
    assert open_data_key(seal, CONTEXT, None, CUSTOMER) == data_key  # no key store needed


@pytest.mark.parametrize("name", ["sse-s3", "sse-kms"])
def test_an_sse_c_key_on_another_kind_is_not_applicable(name: str) -> None:
    seal, _ = sealed(name)
    with pytest.raises(CustomerKeyNotApplicable):
        open_data_key(seal, CONTEXT, keystore(), CUSTOMER)


def test_without_a_key_store() -> None:
    with pytest.raises(EncryptionNotConfigured):
        seal_new_key(SseRequest.sse_s3(), CONTEXT, None)
    seal, _ = sealed("sse-s3")
    with pytest.raises(KeyUnavailable):
        open_data_key(seal, CONTEXT, None)


def test_an_unknown_kms_key_is_not_found() -> None:
    with pytest.raises(KmsKeyNotFound, match="Invalid keyId 'nope'"):
        seal_new_key(SseRequest.sse_kms("nope"), CONTEXT, keystore())


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_seal_moved_to_another_object_does_not_open(name: str) -> None:
    seal, _ = sealed(name)
    with pytest.raises(WrappedKeyInvalid):
        open_data_key(
            seal, KeyContext("bucket", "photos/dog.jpg"), keystore(), customer_of(REQUESTS[name])
        )


def test_an_edited_kms_context_does_not_open() -> None:
    seal, _ = sealed("sse-kms-context")
    edited = dataclasses.replace(seal, encryption_context={**KMS_CONTEXT, "project": "y"})
    parsed = KeySeal.from_meta(edited.to_meta())
    assert parsed is not None
    with pytest.raises(WrappedKeyInvalid):
        open_data_key(parsed, CONTEXT, keystore())


@pytest.mark.parametrize("source", ["sse-c", "sse-s3", "sse-kms-context"])
@pytest.mark.parametrize("target", ["sse-c", "sse-s3", "sse-kms"])
def test_a_copy_reseals_the_data_key_for_its_destination(source: str, target: str) -> None:
    seal, data_key = sealed(source)
    destination = KeyContext("other", "copy.jpg")
    target_request = REQUESTS[target]
    if target == "sse-c":
        target_request = SseRequest(Kind.SSE_C, customer=OTHER_CUSTOMER)  # a key change
    copied = reseal_data_key(
        seal,
        CONTEXT,
        destination,
        target_request,
        keystore=keystore(),
        source_customer=customer_of(REQUESTS[source]),
    )
    assert copied.kind is target_request.kind
    reader = customer_of(target_request)
    assert open_data_key(copied, destination, keystore(), reader) == data_key
    with pytest.raises((WrappedKeyInvalid, CustomerKeyMismatch)):
        open_data_key(copied, CONTEXT, keystore(), reader)


def test_rotation_reseals_under_the_newest_version() -> None:
    seal, data_key = sealed("sse-kms-context")
    rotated_store = KeyStore({"sse-s3": {1: M1}, "tenant-a": {1: M2, 2: M3}}, "sse-s3")
    rotated = rotate_seal(seal, CONTEXT, rotated_store)
    assert rotated is not None
    assert (rotated.key_id, rotated.key_version) == ("tenant-a", 2)
    assert rotated.encryption_context == KMS_CONTEXT
    assert open_data_key(rotated, CONTEXT, rotated_store) == data_key
    assert rotate_seal(rotated, CONTEXT, rotated_store) is None
    assert rotate_seal(sealed("sse-c")[0], CONTEXT, rotated_store) is None


# --- the stored envelope, strictly parsed ------------------------------------------------------


def test_unencrypted_metadata_has_no_envelope() -> None:
    meta = {"content-type": "image/jpeg", "x-amz-meta-sse": "no", "x-nimbus-acl": "{}"}
    assert KeySeal.from_meta(meta) is None
    assert Envelope.from_meta(meta) is None
    assert not is_encrypted(meta)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_an_envelope_round_trips_beside_other_metadata(name: str) -> None:
    envelope = Envelope(sealed(name)[0], stream())
    meta = {"content-type": "image/jpeg", **envelope.to_meta()}
    assert is_encrypted(meta)
    assert all(isinstance(value, str) for value in meta.values())
    assert Envelope.from_meta(meta) == envelope
    assert Envelope.from_meta(meta, stored_size=envelope.stream.cipher_size) == envelope


def test_the_stored_size_must_match_the_envelope() -> None:
    envelope = Envelope(sealed("sse-s3")[0], stream())
    with pytest.raises(EnvelopeInvalid, match="the blob is 5 bytes"):
        Envelope.from_meta(envelope.to_meta(), stored_size=5)


def mutations() -> list[tuple[str, Kind, str, str | None]]:
    """(case, kind of envelope, field, new value or None to delete)."""
    cases: list[tuple[str, Kind, str, str | None]] = []
    for kind in Kind:
        for field in (env.FORMAT, env.KIND, env.WRAPPED, env.NONCE_PREFIX, env.SEGMENT_SIZE):
            cases.append((f"{kind.value} without {field}", kind, field, None))
        cases += [
            (f"{kind.value} format 2", kind, env.FORMAT, "2"),
            (f"{kind.value} unknown kind", kind, env.KIND, "aes128"),
            (f"{kind.value} kind in capitals", kind, env.KIND, kind.value.upper()),
            (f"{kind.value} wrapped not base64", kind, env.WRAPPED, "!!!"),
            (f"{kind.value} wrapped short", kind, env.WRAPPED, base64.b64encode(b"x").decode()),
            (
                f"{kind.value} nonce long",
                kind,
                env.NONCE_PREFIX,
                base64.b64encode(b"x" * 9).decode(),
            ),
            (f"{kind.value} nonce unpadded", kind, env.NONCE_PREFIX, "BwcHBwcHBwc"),
            (f"{kind.value} nonce urlsafe", kind, env.NONCE_PREFIX, "-_-_-_-_-_8="),
            (f"{kind.value} segment 0", kind, env.SEGMENT_SIZE, "0"),
            (f"{kind.value} segment huge", kind, env.SEGMENT_SIZE, str(2**40)),
            (f"{kind.value} segment leading zero", kind, env.SEGMENT_SIZE, "065536"),
            (f"{kind.value} segment signed", kind, env.SEGMENT_SIZE, "+65536"),
            (f"{kind.value} segment spaced", kind, env.SEGMENT_SIZE, " 65536"),
            (f"{kind.value} size negative", kind, env.PLAIN_SIZE, "-1"),
            (f"{kind.value} size float", kind, env.PLAIN_SIZE, "1.5"),
            (f"{kind.value} size enormous", kind, env.PLAIN_SIZE, "9" * 30),
            (f"{kind.value} size arabic digits", kind, env.PLAIN_SIZE, "\u0661\u0660"),
            (f"{kind.value} unknown field", kind, "x-nimbus-sse-extra", "1"),
        ]
    for kind in (Kind.SSE_S3, Kind.SSE_KMS):
        cases += [
            (f"{kind.value} without key id", kind, env.KEY_ID_META, None),
            (f"{kind.value} without version", kind, env.KEY_VERSION, None),
            (f"{kind.value} version 0", kind, env.KEY_VERSION, "0"),
            (f"{kind.value} bad key id", kind, env.KEY_ID_META, "../etc"),
            (f"{kind.value} with a salt", kind, env.CUSTOMER_SALT, "AAAAAAAAAAAAAAAAAAAAAA=="),
        ]
    cases += [
        ("sse-c without salt", Kind.SSE_C, env.CUSTOMER_SALT, None),
        ("sse-c without verifier", Kind.SSE_C, env.CUSTOMER_VERIFIER, None),
        ("sse-c short verifier", Kind.SSE_C, env.CUSTOMER_VERIFIER, "AAAA"),
        ("sse-c with a key id", Kind.SSE_C, env.KEY_ID_META, "sse-s3"),
        ("sse-c with a context", Kind.SSE_C, env.CONTEXT, context_header({"a": "b"})),
        ("sse-s3 with a context", Kind.SSE_S3, env.CONTEXT, context_header({"a": "b"})),
        ("kms context not json", Kind.SSE_KMS, env.CONTEXT, base64.b64encode(b"{").decode()),
        ("kms context a list", Kind.SSE_KMS, env.CONTEXT, context_header({"a": 1})),
        ("kms context not canonical", Kind.SSE_KMS, env.CONTEXT, context_header(KMS_CONTEXT)),
    ]
    return cases


def envelope_of(kind: Kind) -> Envelope:
    name = {Kind.SSE_C: "sse-c", Kind.SSE_S3: "sse-s3", Kind.SSE_KMS: "sse-kms-context"}[kind]
    return Envelope(sealed(name)[0], stream())


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [case[1:] for case in mutations()],
    ids=[case[0] for case in mutations()],
)
def test_a_corrupted_envelope_is_an_error_not_a_crash(
    kind: Kind, field: str, value: str | None
) -> None:
    meta = envelope_of(kind).to_meta()
    if value is None:
        del meta[field]
    else:
        assert meta.get(field) != value
        meta[field] = value
    with pytest.raises(EnvelopeInvalid):
        Envelope.from_meta(meta)


def test_stream_fields_without_a_seal_are_corrupt() -> None:
    with pytest.raises(EnvelopeInvalid, match="without a key seal"):
        Envelope.from_meta(stream().to_meta())


def test_random_damage_never_escapes_as_another_exception() -> None:
    rng = random.Random(7)
    alphabet = "AZaz09+/=-_. \x00é"
    for kind in Kind:
        meta = envelope_of(kind).to_meta()
        for _ in range(400):
            damaged = dict(meta)
            field = rng.choice(sorted(damaged))
            value = list(damaged[field])
            for _ in range(rng.randint(1, 3)):
                position = rng.randrange(len(value) + 1)
                choice = rng.random()
                if choice < 0.4 and value:
                    value[min(position, len(value) - 1)] = rng.choice(alphabet)
                elif choice < 0.7:
                    value.insert(position, rng.choice(alphabet))
                elif value:
                    del value[min(position, len(value) - 1)]
            damaged[field] = "".join(value)
            try:
                parsed = Envelope.from_meta(damaged, stored_size=stream().cipher_size)
            except EnvelopeInvalid:
                continue
            assert parsed is not None
            with contextlib.suppress(EncryptionError):  # caught when it is opened
                customer = CUSTOMER if parsed.seal.kind is Kind.SSE_C else None
                open_data_key(parsed.seal, CONTEXT, keystore(), customer)


# --- the SSE headers of a write ---------------------------------------------------------------


def test_a_write_without_sse_headers_asks_for_nothing() -> None:
    assert parse_sse_request({"content-type": "text/plain"}) is None
    assert parse_sse_request({env.SSE_BUCKET_KEY: "true"}) is None


def test_sse_s3_and_sse_kms_requests() -> None:
    assert parse_sse_request({env.SSE: "AES256"}) == SseRequest(Kind.SSE_S3)
    assert parse_sse_request({env.SSE: "aws:kms"}) == SseRequest(Kind.SSE_KMS)
    assert parse_sse_request(
        {"X-Amz-Server-Side-Encryption": "aws:kms", env.SSE_KMS_KEY_ID: "k"}
    ) == (SseRequest(Kind.SSE_KMS, kms_key_id="k"))
    assert parse_sse_request({env.SSE: "aws:kms", env.SSE_KMS_KEY_ID: " "}) == SseRequest(
        Kind.SSE_KMS
    )
    request = parse_sse_request(
        {
            env.SSE: "aws:kms",
            env.SSE_CONTEXT: context_header(KMS_CONTEXT),
            env.SSE_BUCKET_KEY: "TRUE",
        }
    )
    assert request == SseRequest(
        Kind.SSE_KMS, encryption_context=KMS_CONTEXT, bucket_key_enabled=True
    )


def test_an_sse_c_request() -> None:
    assert parse_sse_request(sse_c_headers()) == SseRequest(Kind.SSE_C, customer=CUSTOMER)
    broken = {**sse_c_headers(), "x-amz-server-side-encryption-customer-key": "AAAA"}
    with pytest.raises(CustomerKeyInvalid):
        parse_sse_request(broken)


@pytest.mark.parametrize(
    ("headers", "error", "header"),
    [
        ({env.SSE: "AES128"}, EncryptionMethodUnsupported, env.SSE),
        ({env.SSE: "aes256"}, EncryptionMethodUnsupported, env.SSE),
        ({env.SSE: "aws:kms:dsse"}, EncryptionMethodUnsupported, env.SSE),
        ({env.SSE: ""}, EncryptionMethodUnsupported, env.SSE),
        ({env.SSE_KMS_KEY_ID: "k"}, KmsKeyIdWithoutKms, env.SSE_KMS_KEY_ID),
        ({env.SSE: "AES256", env.SSE_KMS_KEY_ID: "k"}, KmsKeyIdWithoutKms, env.SSE_KMS_KEY_ID),
        ({env.SSE_CONTEXT: context_header({})}, KmsKeyIdWithoutKms, env.SSE_CONTEXT),
        ({**sse_c_headers(), env.SSE: "AES256"}, EncryptionMethodsConflict, env.SSE),
        ({**sse_c_headers(), env.SSE_KMS_KEY_ID: "k"}, KmsKeyIdWithoutKms, env.SSE_KMS_KEY_ID),
        ({env.SSE: "aws:kms", env.SSE_CONTEXT: "!!"}, EncryptionContextInvalid, env.SSE_CONTEXT),
        (
            {env.SSE: "aws:kms", env.SSE_CONTEXT: context_header({"a": 1})},
            EncryptionContextInvalid,
            env.SSE_CONTEXT,
        ),
        (
            {env.SSE: "aws:kms", env.SSE_CONTEXT: context_header({"": "x"})},
            EncryptionContextInvalid,
            env.SSE_CONTEXT,
        ),
        (
            {env.SSE: "aws:kms", env.SSE_CONTEXT: base64.b64encode(b"[1]").decode()},
            EncryptionContextInvalid,
            env.SSE_CONTEXT,
        ),
        (
            {env.SSE: "aws:kms", env.SSE_CONTEXT: context_header({"a": "x" * 5000})},
            EncryptionContextInvalid,
            env.SSE_CONTEXT,
        ),
        (
            {env.SSE: "AES256", env.SSE_BUCKET_KEY: "yes"},
            BucketKeyEnabledInvalid,
            env.SSE_BUCKET_KEY,
        ),
    ],
)
def test_each_fault_of_a_write_has_its_error(
    headers: dict[str, str], error: type[EncryptionError], header: str
) -> None:
    with pytest.raises(error) as caught:
        parse_sse_request(headers)
    assert type(caught.value) is error
    assert getattr(caught.value, "header", None) == header


# --- responses and ETags ----------------------------------------------------------------------


def test_response_headers_for_each_kind() -> None:
    assert response_headers(sealed("sse-s3")[0]) == {env.SSE: "AES256"}
    kms = sealed("sse-kms-context")[0]
    assert response_headers(kms) == {env.SSE: "aws:kms", env.SSE_KMS_KEY_ID: "tenant-a"}
    with_context = response_headers(kms, include_context=True)
    decoded = json.loads(base64.b64decode(with_context[env.SSE_CONTEXT]))
    assert decoded == KMS_CONTEXT
    assert response_headers(sealed("sse-kms")[0], include_context=True) == {
        env.SSE: "aws:kms",
        env.SSE_KMS_KEY_ID: "tenant-a",
    }
    customer = sealed("sse-c")[0]
    assert response_headers(customer, CUSTOMER) == {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key-MD5": CUSTOMER.key_md5,
    }
    for seal in (sealed(name)[0] for name in REQUESTS):
        assert env.SSE_BUCKET_KEY not in response_headers(seal, CUSTOMER, include_context=True)


def test_etags() -> None:
    plain, cipher = hashlib.md5(b"p").hexdigest(), hashlib.md5(b"c").hexdigest()
    assert etag_for(None, plain_md5=plain, cipher_md5=cipher) == plain
    assert etag_for(Kind.SSE_S3, plain_md5=plain, cipher_md5=cipher) == plain
    assert etag_for(Kind.SSE_C, plain_md5=plain, cipher_md5=cipher) == cipher
    assert etag_for(Kind.SSE_KMS, plain_md5=plain, cipher_md5=cipher) == cipher


# --- a PUT, then reads, as the gateway will do them -------------------------------------------


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


@pytest.mark.parametrize("name", ["sse-c", "sse-s3", "sse-kms-context"])
async def test_put_then_ranged_get(name: str) -> None:
    data = random.Random(1).randbytes(300_000)
    request = REQUESTS[name]
    keys = keystore()
    # PUT: seal a new data key, stream the body through the encryptor, store envelope + blob
    seal, data_key = seal_new_key(request, CONTEXT, keys)
    encryptor = SegmentEncryptor(data_key, md5_plain=True, md5_cipher=True)
    blob = await collect(encryptor.encrypt(chunked(data, 8192)))
    meta = {**seal.to_meta(), **StreamParams.of(encryptor).to_meta()}  # the trailer's part
    etag = etag_for(seal.kind, plain_md5=encryptor.plain_md5, cipher_md5=encryptor.cipher_md5)
    assert (etag == hashlib.md5(data).hexdigest()) is (request.kind is Kind.SSE_S3)
    # GET with a range
    envelope = Envelope.from_meta(meta, stored_size=len(blob))
    assert envelope is not None
    assert envelope.stream.plain_size == len(data)
    key = open_data_key(envelope.seal, CONTEXT, keys, request.customer)
    for start, end in [(0, 0), (65535, 65536), (100_000, 299_999), (0, len(data) - 1)]:
        plan = envelope.stream.map_range(start, end)
        window = blob[plan.cipher_start : plan.cipher_end + 1]
        plain = await collect(
            decrypt_range(chunked(window, 4096), key, envelope.stream.nonce_prefix, plan)
        )
        assert plain == data[start : end + 1]
