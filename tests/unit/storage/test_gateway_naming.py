"""AWS bucket naming rules, one by one."""

from __future__ import annotations

import pytest
from nimbus_storage.gateway.naming import bucket_name_problem, validate_bucket_name
from nimbus_storage.s3errors import InvalidBucketName

LENGTH = "between 3 and 63"
CHARACTERS = "lowercase letters, numbers, dots and hyphens"
ADJACENT = "two adjacent periods"
IP = "IP address"
RESERVED = "reserved prefix or suffix"


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "a" * 63,
        "my-bucket",
        "my.bucket.name",
        "123",
        "1bucket1",
        "a-b-c",
        "a.b-c.d",
        "my-xn--bucket",  # reserved only as a prefix
        "mys3alias",  # reserved only with its hyphen
        "data-s3alias-x",
        "x.mrap.y",
        "192.168.1.1.5",  # five groups: not an IP address
        "192.168.1",
        "1.2.3.a",
        "sthree",
        "amzn-s3-demo",
    ],
)
def test_valid_names(name: str) -> None:
    assert bucket_name_problem(name) is None
    validate_bucket_name(name)  # does not raise


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", LENGTH),
        ("ab", LENGTH),
        ("a" * 64, LENGTH),
        ("My-Bucket", CHARACTERS),
        ("my_bucket", CHARACTERS),
        ("my bucket", CHARACTERS),
        ("bücket", CHARACTERS),
        ("bucket\u0661", CHARACTERS),  # a non-ASCII digit
        ("-bucket", CHARACTERS),
        ("bucket-", CHARACTERS),
        (".bucket", CHARACTERS),
        ("bucket.", CHARACTERS),
        ("buck/et", CHARACTERS),
        ("abc\n", CHARACTERS),  # a trailing newline must not slip past the pattern
        ("abcd\n", CHARACTERS),
        ("my..bucket", ADJACENT),
        ("my.-bucket", ADJACENT),
        ("my-.bucket", ADJACENT),
        ("192.168.1.1", IP),
        ("10.0.0.255", IP),
        ("999.999.999.999", IP),
        ("xn--bucket", RESERVED),
        ("sthree-bucket", RESERVED),
        ("sthree-configurator", RESERVED),
        ("amzn-s3-demo-bucket", RESERVED),
        ("bucket-s3alias", RESERVED),
        ("bucket--ol-s3", RESERVED),
        ("bucket.mrap", RESERVED),
        ("bucket--x-s3", RESERVED),
        ("bucket--table-s3", RESERVED),
    ],
)
def test_invalid_names(name: str, rule: str) -> None:
    problem = bucket_name_problem(name)
    assert problem is not None
    assert rule in problem
    with pytest.raises(InvalidBucketName) as caught:
        validate_bucket_name(name)
    assert caught.value.status == 400
    assert caught.value.message == problem
    assert caught.value.extra == {"BucketName": name}
