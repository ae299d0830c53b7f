"""The vocabulary of the model modules: schema nodes, CEL rules, `model` and `prop`.

One declaration per field gives the CRD's OpenAPI schema, the operator's parser and its
defaults (see `nimbus_operator.models.modeling`)::

    @model
    class GatewaySpec:
        replicas: int = prop("How many gateway pods.", Integer(minimum=1), default=2)
"""

from __future__ import annotations

from nimbus_operator.models.containers import Array, FreeForm, StringMap
from nimbus_operator.models.modeling import (
    Object,
    SpecModel,
    StatusModel,
    dump_model,
    model,
    model_fields,
    parse_model,
    prop,
)
from nimbus_operator.models.nodebase import AnyRule, JsonDict, Node, Rule, TransitionRule
from nimbus_operator.models.scalars import (
    Boolean,
    Choice,
    DateTime,
    Duration,
    Integer,
    Quantity,
    String,
)

__all__ = [
    "AnyRule",
    "Array",
    "Boolean",
    "Choice",
    "DateTime",
    "Duration",
    "FreeForm",
    "Integer",
    "JsonDict",
    "Node",
    "Object",
    "Quantity",
    "Rule",
    "SpecModel",
    "StatusModel",
    "String",
    "StringMap",
    "TransitionRule",
    "dump_model",
    "model",
    "model_fields",
    "parse_model",
    "prop",
]
