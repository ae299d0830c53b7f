"""The base of schema nodes, and CEL rules paired with the Python predicate they mean.

A node renders itself as OpenAPI v3 (``openapi()``), turns a JSON value into the Python
value the models hold (``parse()``, raising `SpecError` at the field's path) and back
(``dump()``). A CEL rule travels with its Python twin (`Rule.check`), so the API server and
the operator refuse the same bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nimbus_operator.models.errors import SpecError

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rule:
    """A CEL rule on a node's value (``self``) and the Python predicate that means the same."""

    expression: str
    message: str
    check: Callable[[Any], bool]
    """``check(value)``: the Python twin of the expression, given the JSON value."""

    def __post_init__(self) -> None:
        if "oldSelf" in self.expression:
            raise ValueError(f"a rule using oldSelf is a TransitionRule: {self.expression}")

    def openapi(self) -> JsonDict:
        """The ``x-kubernetes-validations`` entry."""
        return {"rule": self.expression, "message": self.message}


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """A CEL rule comparing ``self`` with ``oldSelf``: it runs on updates only."""

    expression: str
    message: str
    check: Callable[[Any, Any], bool]
    """``check(new, old)``: the Python twin of the expression."""

    def __post_init__(self) -> None:
        if "oldSelf" not in self.expression:
            raise ValueError(f"a transition rule must use oldSelf: {self.expression}")

    def openapi(self) -> JsonDict:
        """The ``x-kubernetes-validations`` entry."""
        return {"rule": self.expression, "message": self.message}


AnyRule = Rule | TransitionRule


def describe(value: Any) -> str:
    """A short rendering of a value for an error message."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, kw_only=True)
class Node:
    """A schema node. Subclasses say what a value looks like; rules say what else must hold."""

    rules: Sequence[AnyRule] = ()
    description: str | None = None
    """Shown where the node is not a model field (list items); fields use their own."""

    def openapi(self) -> JsonDict:
        """This node as an OpenAPI v3 schema, CEL rules included."""
        rendered = self._openapi()
        if self.description and "description" not in rendered:
            rendered = {"description": self.description, **rendered}
        rules = self.validation_rules()
        if rules:
            rendered["x-kubernetes-validations"] = [rule.openapi() for rule in rules]
        return rendered

    def validation_rules(self) -> tuple[AnyRule, ...]:
        """The CEL rules on this node, each with its Python twin."""
        return tuple(self.rules)

    def parse(self, value: Any, path: str) -> Any:
        """Check a JSON value and return the Python value the models hold."""
        result = self._parse(value, path)
        rules = self.validation_rules()
        if any(isinstance(rule, Rule) for rule in rules):
            dumped = self.dump(result)
            for rule in rules:
                if isinstance(rule, Rule) and not rule.check(dumped):
                    shown = f" (got {describe(dumped)})" if isinstance(dumped, str | int) else ""
                    raise SpecError(path, rule.message + shown)
        return result

    def dump(self, value: Any) -> Any:
        """The JSON form of a value this node parsed."""
        return value

    def check_update(self, old: Any, new: Any, path: str) -> None:
        """Apply the transition rules to an update of this node's JSON value."""
        for rule in self.validation_rules():
            if isinstance(rule, TransitionRule) and not rule.check(new, old):
                raise SpecError(path, rule.message)

    def _openapi(self) -> JsonDict:
        raise NotImplementedError

    def _parse(self, value: Any, path: str) -> Any:
        raise NotImplementedError
