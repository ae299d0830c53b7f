"""Glob matching as IAM and S3 configuration documents use it.

``*`` matches any run of characters (``/`` included), ``?`` exactly one. In a 2012-10-17 policy a
value may also carry variables: ``${aws:username}`` is replaced by the request's value for that key,
and ``${*}``, ``${?}``, ``${$}`` stand for the literal characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

ContextValue = str | list[str]
Context = Mapping[str, ContextValue]

_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


def lookup(context: Context, key: str) -> ContextValue | None:
    """A context value by condition key; keys compare case-insensitively, as IAM does."""
    if key in context:
        return context[key]
    folded = key.casefold()
    for name, value in context.items():
        if name.casefold() == folded:
            return value
    return None


def substitute(text: str, context: Context) -> str | None:
    """Replace ``${key}`` variables with literal text; None when a variable has no single value."""
    if "${" not in text:
        return text
    return _translate(text, context, wildcards=False, as_regex=False)


def compile_pattern(
    pattern: str,
    *,
    wildcards: bool = True,
    ignore_case: bool = False,
    context: Context | None = None,
) -> re.Pattern[str] | None:
    """A regex matching ``pattern`` whole; None when a variable in it cannot be resolved."""
    if context is not None and "${" in pattern:
        source = _translate(pattern, context, wildcards=wildcards, as_regex=True)
        if source is None:
            return None
        return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
    return _compile_plain(pattern, wildcards, ignore_case)


def glob_match(
    pattern: str,
    value: str,
    *,
    ignore_case: bool = False,
    context: Context | None = None,
) -> bool:
    compiled = compile_pattern(pattern, ignore_case=ignore_case, context=context)
    return compiled is not None and compiled.fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _compile_plain(pattern: str, wildcards: bool, ignore_case: bool) -> re.Pattern[str]:
    source = "".join(_translate_char(char, wildcards) for char in pattern)
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _translate_char(char: str, wildcards: bool) -> str:
    if wildcards and char == "*":
        return ".*"
    if wildcards and char == "?":
        return "."
    return re.escape(char)


def _translate(text: str, context: Context, *, wildcards: bool, as_regex: bool) -> str | None:
    out: list[str] = []
    index = 0
    while index < len(text):
        end = text.find("}", index + 2) if text.startswith("${", index) else -1
        if end == -1:
            char = text[index]
            out.append(_translate_char(char, wildcards) if as_regex else char)
            index += 1
            continue
        name = text[index + 2 : end]
        literal = _LITERAL_VARIABLES.get(name)
        if literal is None:
            value = lookup(context, name)
            if not isinstance(value, str):
                return None
            literal = value
        out.append(re.escape(literal) if as_regex else literal)
        index = end + 1
    return "".join(out)
