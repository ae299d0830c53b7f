"""Bucket default encryption: the ServerSideEncryptionConfiguration document.

PutBucketEncryption sets the encryption every write to the bucket gets when it asks for none
(PutObject, CopyObject, CreateMultipartUpload without SSE headers); GetBucketEncryption answers
it back. One rule, as AWS allows::

    <ServerSideEncryptionConfiguration>
      <Rule>
        <ApplyServerSideEncryptionByDefault>
          <SSEAlgorithm>AES256 | aws:kms</SSEAlgorithm>
          <KMSMasterKeyID>key id, alias/..., or an ARN</KMSMasterKeyID>   (aws:kms only)
        </ApplyServerSideEncryptionByDefault>
        <BucketKeyEnabled>true | false</BucketKeyEnabled>
      </Rule>
    </ServerSideEncryptionConfiguration>

``aws:kms:dsse`` (dual-layer SSE-KMS) is NotImplemented; any other algorithm, an unknown
element or a malformed document is MalformedXML; a KMSMasterKeyID with AES256 is
InvalidArgument, as AWS answers. S3 Bucket Keys are not used (an object's data key is wrapped
by the master key itself); ``BucketKeyEnabled`` is kept and answered back. Whether a KMS key id
names a key of the key store is the gateway's check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nimbus_storage.s3errors import InvalidArgument, MalformedXML, NotImplementedError_
from nimbus_storage.s3xml import parse, render, text, token

__all__ = ["DefaultEncryption", "from_json", "parse_encryption", "render_encryption", "to_json"]

ALGORITHMS = ("AES256", "aws:kms")
DSSE = "aws:kms:dsse"
_RULE_ELEMENTS = frozenset({"ApplyServerSideEncryptionByDefault", "BucketKeyEnabled"})
_DEFAULT_ELEMENTS = frozenset({"SSEAlgorithm", "KMSMasterKeyID"})


@dataclass(frozen=True, slots=True)
class DefaultEncryption:
    """A bucket's default encryption: ``algorithm`` is ``AES256`` or ``aws:kms``."""

    algorithm: str
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False


def _boolean(value: str) -> bool:
    if value not in ("true", "false"):
        raise MalformedXML("BucketKeyEnabled must be true or false")
    return value == "true"


def parse_encryption(body: bytes) -> DefaultEncryption:
    """The default encryption a PutBucketEncryption body sets (see the module's docstring)."""
    root = parse(body, root="ServerSideEncryptionConfiguration")
    rules = list(root)
    if len(rules) != 1 or rules[0].tag != "Rule":
        raise MalformedXML("a ServerSideEncryptionConfiguration holds exactly one <Rule>")
    rule = rules[0]
    if any(child.tag not in _RULE_ELEMENTS for child in rule):
        raise MalformedXML()
    default = rule.find("ApplyServerSideEncryptionByDefault")
    if default is None or any(child.tag not in _DEFAULT_ELEMENTS for child in default):
        raise MalformedXML()
    algorithm = token(default, "SSEAlgorithm")
    if algorithm == DSSE:
        raise NotImplementedError_(
            "Dual-layer server-side encryption (aws:kms:dsse) is not supported: use AES256 or"
            " aws:kms."
        )
    if algorithm not in ALGORITHMS:
        raise MalformedXML("SSEAlgorithm must be AES256 or aws:kms")
    key_id = text(default, "KMSMasterKeyID")
    if key_id is not None:
        key_id = key_id.strip()
        if algorithm != "aws:kms":
            raise InvalidArgument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
                ArgumentName="ApplyServerSideEncryptionByDefault",
            )
        if not key_id:
            raise InvalidArgument("KMSMasterKeyID must not be empty", ArgumentName="KMSMasterKeyID")
    enabled = token(rule, "BucketKeyEnabled")
    return DefaultEncryption(algorithm, key_id, _boolean(enabled) if enabled is not None else False)


def render_encryption(configuration: DefaultEncryption) -> bytes:
    """The GetBucketEncryption document."""
    return render(
        "ServerSideEncryptionConfiguration",
        {
            "Rule": {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": configuration.algorithm,
                    "KMSMasterKeyID": configuration.kms_key_id,
                },
                "BucketKeyEnabled": configuration.bucket_key_enabled,
            }
        },
    )


def to_json(configuration: DefaultEncryption) -> str:
    """The configuration as the catalog stores it."""
    return json.dumps(
        {
            "algorithm": configuration.algorithm,
            "kms_key_id": configuration.kms_key_id,
            "bucket_key_enabled": configuration.bucket_key_enabled,
        },
        sort_keys=True,
    )


def from_json(stored: str) -> DefaultEncryption:
    document = json.loads(stored)
    return DefaultEncryption(
        str(document["algorithm"]),
        document.get("kms_key_id"),
        bool(document.get("bucket_key_enabled", False)),
    )
