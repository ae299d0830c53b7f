"""Data keys and their wrapping: bound to the object they belong to; the SSE-C headers, each
fault its own error; the client's key told apart by its verifier and, past it, by AEAD."""

from __future__ import annotations

import base64
import hashlib

import pytest
from multidict import CIMultiDict
from nimbus_storage.sse.errors import (
    CustomerAlgorithmMissing,
    CustomerAlgorithmUnsupported,
    CustomerKeyInvalid,
    CustomerKeyMD5Mismatch,
    CustomerKeyMD5Missing,
    CustomerKeyMismatch,
    CustomerKeyMissing,
    EncryptionError,
    EncryptionHeaderError,
    WrappedKeyInvalid,
)
from nimbus_storage.sse.keys import (
    DATA_KEY_SIZE,
    WRAPPED_KEY_SIZE,
    CustomerKey,
    CustomerSeal,
    KeyContext,
    _customer_kek,
    customer_key_from_bytes,
    new_data_key,
    open_for_customer,
    parse_customer_key,
    seal_for_customer,
    unwrap_data_key,
    verify_customer_key,
    wrap_data_key,
)
from nimbus_storage.storage_errors import StorageError

KEK = bytes(range(32))
CONTEXT = KeyContext("photos", "2024/cat.jpg")
CLIENT_KEY = b"K" * 32
OTHER_KEY = b"L" * 32
PREFIX = "x-amz-server-side-encryption-customer-"
COPY_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"


def sse_c_headers(key: bytes = CLIENT_KEY, prefix: str = PREFIX) -> dict[str, str]:
    return {
        f"{prefix}algorithm": "AES256",
        f"{prefix}key": base64.b64encode(key).decode(),
        f"{prefix}key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


# --- data keys and wrapping -------------------------------------------------------------------


def test_data_keys_are_fresh_random_256_bit_keys() -> None:
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(key) == DATA_KEY_SIZE for key in keys)


def test_a_wrapped_key_opens_for_its_object() -> None:
    data_key = new_data_key()
    wrapped = wrap_data_key(KEK, data_key, CONTEXT)
    assert len(wrapped) == WRAPPED_KEY_SIZE
    assert data_key not in wrapped
    assert wrap_data_key(KEK, data_key, CONTEXT) != wrapped  # fresh salt and nonce each time
    assert unwrap_data_key(KEK, wrapped, CONTEXT) == data_key


@pytest.mark.parametrize(
    "elsewhere",
    [
        KeyContext("photos", "2024/dog.jpg"),
        KeyContext("videos", "2024/cat.jpg"),
        KeyContext("photos", "2024/cat.jpg", version_id="v1"),
        KeyContext("photos", "2024/cat.jpg", encryption_context={"a": "b"}),
        KeyContext("photos2", "024/cat.jpg"),  # same characters, other split
        KeyContext("photo", "s2024/cat.jpg"),
    ],
)
def test_a_wrapped_key_copied_to_another_object_does_not_open(elsewhere: KeyContext) -> None:
    wrapped = wrap_data_key(KEK, new_data_key(), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        unwrap_data_key(KEK, wrapped, elsewhere)


def test_version_id_and_encryption_context_are_bound_when_given() -> None:
    context = KeyContext("b", "k", version_id="v1", encryption_context={"x": "1", "y": "2"})
    data_key = new_data_key()
    wrapped = wrap_data_key(KEK, data_key, context)
    same = KeyContext("b", "k", version_id="v1", encryption_context={"y": "2", "x": "1"})
    assert unwrap_data_key(KEK, wrapped, same) == data_key  # the context's order is canonical
    for other in [
        KeyContext("b", "k", version_id="v2", encryption_context=context.encryption_context),
        KeyContext("b", "k", encryption_context=context.encryption_context),
        KeyContext("b", "k", version_id="v1", encryption_context={"x": "1"}),
        KeyContext("b", "k", version_id="v1", encryption_context={"x": "1", "y": "3"}),
    ]:
        with pytest.raises(WrappedKeyInvalid):
            unwrap_data_key(KEK, wrapped, other)


def test_a_wrapped_key_opens_under_its_kek_only_and_unaltered() -> None:
    wrapped = wrap_data_key(KEK, new_data_key(), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        unwrap_data_key(bytes(32), wrapped, CONTEXT)
    for position in range(len(wrapped)):
        altered = bytearray(wrapped)
        altered[position] ^= 0x20
        with pytest.raises(WrappedKeyInvalid):
            unwrap_data_key(KEK, bytes(altered), CONTEXT)
    for bad in [b"", wrapped[:-1], wrapped + b"\x00"]:
        with pytest.raises(WrappedKeyInvalid):
            unwrap_data_key(KEK, bad, CONTEXT)


def test_wrapping_takes_256_bit_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_data_key(KEK[:16], new_data_key(), CONTEXT)
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_data_key(KEK, b"short", CONTEXT)


# --- SSE-C headers ----------------------------------------------------------------------------


def test_no_sse_c_headers_is_no_customer_key() -> None:
    assert parse_customer_key({}) is None
    assert parse_customer_key({"x-amz-server-side-encryption": "AES256"}) is None
    assert parse_customer_key(sse_c_headers(), copy_source=True) is None


@pytest.mark.parametrize("copy_source", [False, True])
def test_valid_sse_c_headers_give_the_key(copy_source: bool) -> None:
    headers = sse_c_headers(prefix=COPY_PREFIX if copy_source else PREFIX)
    customer = parse_customer_key(headers, copy_source=copy_source)
    assert customer is not None
    assert customer.key == CLIENT_KEY
    assert customer.key_md5 == headers[f"{COPY_PREFIX if copy_source else PREFIX}key-MD5"]
    assert customer == customer_key_from_bytes(CLIENT_KEY)


def test_header_names_match_whatever_their_case() -> None:
    headers = {name.upper(): value for name, value in sse_c_headers().items()}
    assert parse_customer_key(headers) == customer_key_from_bytes(CLIENT_KEY)
    assert parse_customer_key(CIMultiDict(headers)) == customer_key_from_bytes(CLIENT_KEY)


def test_the_client_key_is_never_shown() -> None:
    customer = customer_key_from_bytes(CLIENT_KEY)
    assert "KKKK" not in repr(customer)
    assert base64.b64encode(CLIENT_KEY).decode() not in repr(customer)


def with_header(name: str, value: str | None) -> dict[str, str]:
    headers = sse_c_headers()
    full = PREFIX + name
    if value is None:
        del headers[full]
    else:
        headers[full] = value
    return headers


KEY_B64 = base64.b64encode(CLIENT_KEY).decode()
CASES: list[tuple[dict[str, str], type[EncryptionHeaderError], str]] = [
    (with_header("algorithm", None), CustomerAlgorithmMissing, "algorithm"),
    (with_header("algorithm", ""), CustomerAlgorithmMissing, "algorithm"),
    (with_header("algorithm", "aws:kms"), CustomerAlgorithmUnsupported, "algorithm"),
    (with_header("algorithm", "aes256"), CustomerAlgorithmUnsupported, "algorithm"),
    (with_header("key", None), CustomerKeyMissing, "key"),
    (with_header("key", base64.b64encode(b"K" * 16).decode()), CustomerKeyInvalid, "key"),
    (with_header("key", base64.b64encode(b"K" * 33).decode()), CustomerKeyInvalid, "key"),
    (with_header("key", "not base64!"), CustomerKeyInvalid, "key"),
    (with_header("key", KEY_B64[:-1]), CustomerKeyInvalid, "key"),
    (with_header("key-MD5", None), CustomerKeyMD5Missing, "key-md5"),
    (
        with_header("key-MD5", base64.b64encode(hashlib.md5(OTHER_KEY).digest()).decode()),
        CustomerKeyMD5Mismatch,
        "key-md5",
    ),
    (with_header("key-MD5", "garbage"), CustomerKeyMD5Mismatch, "key-md5"),
    (
        with_header("key-MD5", hashlib.md5(CLIENT_KEY).hexdigest()),
        CustomerKeyMD5Mismatch,
        "key-md5",
    ),
    ({PREFIX + "key": KEY_B64}, CustomerAlgorithmMissing, "algorithm"),
    ({PREFIX + "algorithm": "AES256"}, CustomerKeyMissing, "key"),
]


@pytest.mark.parametrize(("headers", "error", "header"), CASES)
def test_each_sse_c_header_fault_has_its_own_error(
    headers: dict[str, str], error: type[EncryptionHeaderError], header: str
) -> None:
    with pytest.raises(error) as caught:
        parse_customer_key(headers)
    assert type(caught.value) is error
    assert caught.value.header == PREFIX + header
    assert isinstance(caught.value, EncryptionError)
    assert isinstance(caught.value, StorageError)  # the gateway's one table translates it
    assert KEY_B64 not in caught.value.message
    assert KEY_B64 not in str(caught.value.value)


def test_copy_source_faults_name_the_copy_source_header() -> None:
    headers = sse_c_headers(prefix=COPY_PREFIX)
    del headers[COPY_PREFIX + "key-MD5"]
    with pytest.raises(CustomerKeyMD5Missing) as caught:
        parse_customer_key(headers, copy_source=True)
    assert caught.value.header == COPY_PREFIX + "key-md5"


def test_the_messages_are_aws_words() -> None:
    assert CustomerKeyInvalid("h").message == (
        "The secret key was invalid for the specified algorithm."
    )
    assert CustomerKeyMD5Mismatch("h").message == (
        "The calculated MD5 hash of the key did not match the hash that was provided."
    )


# --- SSE-C sealing ----------------------------------------------------------------------------


def test_a_customer_seal_opens_with_the_customer_key_only() -> None:
    customer = customer_key_from_bytes(CLIENT_KEY)
    data_key = new_data_key()
    seal = seal_for_customer(customer, data_key, CONTEXT)
    assert verify_customer_key(customer, seal)
    assert open_for_customer(customer, seal, CONTEXT) == data_key
    with pytest.raises(CustomerKeyMismatch):
        open_for_customer(customer_key_from_bytes(OTHER_KEY), seal, CONTEXT)


def test_the_customer_key_is_stored_in_no_form_that_reveals_it() -> None:
    customer = customer_key_from_bytes(CLIENT_KEY)
    seal = seal_for_customer(customer, new_data_key(), CONTEXT)
    stored = seal.salt + seal.verifier + seal.wrapped_key
    assert CLIENT_KEY not in stored
    assert hashlib.md5(CLIENT_KEY).digest() not in stored
    assert hashlib.sha256(CLIENT_KEY).digest() not in stored
    again = seal_for_customer(customer, new_data_key(), CONTEXT)
    assert again.salt != seal.salt
    assert again.verifier != seal.verifier  # salted: the same key is not recognisable


def test_a_wrong_key_is_caught_by_aead_too_when_the_verifier_is_bypassed() -> None:
    customer, wrong = customer_key_from_bytes(CLIENT_KEY), customer_key_from_bytes(OTHER_KEY)
    seal = seal_for_customer(customer, new_data_key(), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        unwrap_data_key(_customer_kek(wrong, seal.salt), seal.wrapped_key, CONTEXT)
    # a verifier forged for the wrong key lets it past the check, not past the AEAD
    forged = seal_for_customer(wrong, new_data_key(), CONTEXT, salt=seal.salt)
    mixed = CustomerSeal(seal.salt, forged.verifier, seal.wrapped_key)
    with pytest.raises(WrappedKeyInvalid):
        open_for_customer(wrong, mixed, CONTEXT)


def test_a_right_key_on_damaged_or_moved_metadata_is_not_a_wrong_key() -> None:
    customer = customer_key_from_bytes(CLIENT_KEY)
    seal = seal_for_customer(customer, new_data_key(), CONTEXT)
    with pytest.raises(WrappedKeyInvalid):
        open_for_customer(customer, seal, KeyContext("photos", "other"))
    damaged = CustomerSeal(seal.salt, seal.verifier, seal.wrapped_key[:-1] + b"\x00")
    with pytest.raises(WrappedKeyInvalid):
        open_for_customer(customer, damaged, CONTEXT)
    bad_verifier = CustomerSeal(seal.salt, bytes(32), seal.wrapped_key)
    with pytest.raises(CustomerKeyMismatch):
        open_for_customer(customer, bad_verifier, CONTEXT)


def test_customer_keys_are_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        customer_key_from_bytes(b"short")
    with pytest.raises(ValueError, match="salt"):
        seal_for_customer(CustomerKey(CLIENT_KEY, ""), new_data_key(), CONTEXT, salt=b"x")
