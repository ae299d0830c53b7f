"""Glob matching and policy variables."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.wildcard import compile_pattern, glob_match, lookup, substitute


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "", True),
        ("*", "a/b/c", True),
        ("a*c", "abbbc", True),
        ("a*c", "abd", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a.c", "abc", False),  # regex metacharacters are literal
        ("a+(b)", "a+(b)", True),
        ("line*", "line1\nline2", True),  # * spans newlines
        ("Key", "key", False),
    ],
)
def test_glob_match(pattern: str, value: str, expected: bool) -> None:
    assert glob_match(pattern, value) is expected


def test_ignore_case() -> None:
    assert glob_match("s3:get*", "S3:GetObject", ignore_case=True)
    assert not glob_match("s3:get*", "S3:GetObject")


def test_literal_patterns_have_no_wildcards() -> None:
    pattern = compile_pattern("a*", wildcards=False)
    assert pattern is not None
    assert pattern.fullmatch("a*") is not None
    assert pattern.fullmatch("ab") is None


def test_variables_are_substituted_literally() -> None:
    context = {"aws:username": "a.b*"}
    assert glob_match("home/${aws:username}/*", "home/a.b*/x", context=context)
    assert not glob_match("home/${aws:username}/*", "home/aXbc/x", context=context)


def test_escape_variables() -> None:
    assert glob_match("a${*}b${?}c${$}", "a*b?c$", context={})
    assert not glob_match("a${*}b", "axxb", context={})


def test_unresolvable_variables_match_nothing() -> None:
    assert compile_pattern("${aws:username}", context={}) is None
    assert compile_pattern("${aws:TagKeys}", context={"aws:TagKeys": ["a"]}) is None
    assert not glob_match("*${aws:username}", "anything", context={})


def test_unterminated_variable_is_literal() -> None:
    assert glob_match("a${b", "a${b", context={})


def test_variables_are_ignored_without_a_context() -> None:
    assert glob_match("${aws:username}", "${aws:username}")


def test_substitute() -> None:
    assert substitute("plain", {}) == "plain"
    assert substitute("u-${aws:username}-${*}", {"aws:username": "bob"}) == "u-bob-*"
    assert substitute("${nope}", {}) is None


def test_lookup_is_case_insensitive_with_exact_preference() -> None:
    context = {"aws:SourceIp": "1.1.1.1", "a": "lower", "A": "upper"}
    assert lookup(context, "AWS:SOURCEIP") == "1.1.1.1"
    assert lookup(context, "A") == "upper"
    assert lookup(context, "missing") is None
