"""KeyPair: OpenSSH public keys checked in form and content, fingerprints as ssh-keygen's."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.keypair import KeyPair, KeyPairSpec, KeyPairStatus
from nimbus_operator.models.compute.sshkeys import PublicKeyError, parse_public_key

from tests.unit.operator.compute_samples import (
    ECDSA_256_KEY,
    ED25519_KEY,
    FINGERPRINTS,
    KEY_PAIRS,
    RSA_1024_KEY,
    RSA_KEY,
)


@pytest.mark.parametrize("line", list(FINGERPRINTS), ids=lambda line: line.split()[0])
def test_fingerprints_are_those_ssh_keygen_printed(line: str) -> None:
    bits, sha256, md5, family = FINGERPRINTS[line]
    key = parse_public_key(line)
    assert (key.bits, key.fingerprint, key.md5_fingerprint, key.family) == (
        bits,
        sha256,
        md5,
        family,
    )
    assert key.key_type == line.split(maxsplit=1)[0]


def test_comments_and_a_trailing_newline() -> None:
    key = parse_public_key(ED25519_KEY + "\n")
    assert key.comment == "alice@laptop"
    assert key.line == ED25519_KEY
    with_spaces = parse_public_key(ED25519_KEY + " (work laptop)")
    assert with_spaces.comment == "alice@laptop (work laptop)"
    bare = parse_public_key(" ".join(ED25519_KEY.split()[:2]))
    assert bare.comment == ""
    assert parse_public_key(ECDSA_256_KEY).comment == ""


def test_the_model_parses_and_describes_the_key() -> None:
    keypair = KeyPair.from_body(KEY_PAIRS["rsa"])
    assert keypair.spec.public_key == RSA_KEY + "\n"
    status = KeyPairStatus.of_key(keypair.spec.key, observed_generation=2)
    assert status.to_body() == {
        "observedGeneration": 2,
        "conditions": [],
        "fingerprint": "SHA256:MyyQZ6/RUAdj06LMIEdyyqnKNvS/bmxfdwiRfyQIIbE",
        "md5Fingerprint": "MD5:32:a2:a4:bd:14:f6:3a:90:c9:f4:c8:e7:da:c6:66:0d",
        "keyType": "RSA",
        "bits": 2048,
    }


def _swap_inner_type(line: str, inner: bytes) -> str:
    kind, encoded, *_ = line.split()
    blob = base64.b64decode(encoded)
    length = int.from_bytes(blob[:4], "big")
    swapped = len(inner).to_bytes(4, "big") + inner + blob[4 + length :]
    return f"{kind} {base64.b64encode(swapped).decode()}"


def _truncated(line: str) -> str:
    kind, encoded, *_ = line.split()
    return f"{kind} {base64.b64encode(base64.b64decode(encoded)[:-8]).decode()}"


def _extended(line: str) -> str:
    kind, encoded, *_ = line.split()
    return f"{kind} {base64.b64encode(base64.b64decode(encoded) + b'junk').decode()}"


FORM = "must be an OpenSSH public key on one line"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "must not be empty"),
        ("hello", FORM),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP1 old@host", FORM),
        ("ssh-ed25519", FORM),
        (ED25519_KEY.replace(" ", "  ", 1), FORM),
        (ED25519_KEY + "\n" + RSA_KEY, FORM),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", FORM),
        (ED25519_KEY.split()[0] + " " + ED25519_KEY.split()[1][:-1], "has a key that is not valid"),
        (_swap_inner_type(ED25519_KEY, b"ssh-rsa"), "says ssh-ed25519 but holds a ssh-rsa key"),
        (_truncated(ED25519_KEY), "is truncated"),
        (_truncated(RSA_KEY), "is truncated"),
        (_extended(ED25519_KEY), "has bytes after the key"),
        (RSA_1024_KEY, "is an RSA key of 1024 bits, too weak: use at least 2048 bits"),
    ],
)
def test_bad_keys_say_what_to_do(text: str, error: str) -> None:
    with pytest.raises(SpecError) as caught:
        KeyPairSpec.from_body({"spec": {"publicKey": text}})
    assert str(caught.value).startswith(f"spec.publicKey: {error}"), str(caught.value)


def test_an_ecdsa_key_must_name_its_own_curve() -> None:
    kind, encoded = ECDSA_256_KEY.split()[:2]
    blob = base64.b64decode(encoded)
    other = blob.replace(b"nistp256", b"nistp384")
    forged = f"ecdsa-sha2-nistp384 {base64.b64encode(other).decode()}"
    with pytest.raises(PublicKeyError, match="holds a damaged ECDSA key"):
        parse_public_key(forged)
    inner_only = blob[: 4 + 19] + blob[4 + 19 :].replace(b"nistp256", b"nistp384", 1)
    with pytest.raises(PublicKeyError, match="holds a key of another curve than nistp256"):
        parse_public_key(f"{kind} {base64.b64encode(inner_only).decode()}")


def test_the_key_cannot_change() -> None:
    old = {"spec": {"publicKey": ED25519_KEY}}
    KeyPairSpec.check_update(old, old)
    with pytest.raises(SpecError, match="publicKey cannot change: create another KeyPair"):
        KeyPairSpec.check_update(old, {"spec": {"publicKey": RSA_KEY}})


PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _openssh_line(private: PrivateKey) -> str:
    data = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return data.decode() + " test@nimbus"


KEYS: dict[str, Callable[[], PrivateKey]] = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "rsa-3072": lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
    "ecdsa-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ecdsa-521": lambda: ec.generate_private_key(ec.SECP521R1()),
}


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("name", list(KEYS))
def test_fresh_keys_agree_with_ssh_keygen(name: str, tmp_path: Path) -> None:
    line = _openssh_line(KEYS[name]())
    path = tmp_path / "key.pub"
    path.write_text(line + "\n")
    key = parse_public_key(line)
    for flags, fingerprint in (([], key.fingerprint), (["-E", "md5"], key.md5_fingerprint)):
        printed = subprocess.run(
            ["ssh-keygen", "-l", *flags, "-f", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert printed == [str(key.bits), fingerprint, "test@nimbus", f"({key.family})"]
