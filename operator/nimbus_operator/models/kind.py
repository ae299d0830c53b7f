"""The identity of each custom resource kind: names, scope, models and printer columns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.models.nodebase import JsonDict, Rule


class Scope(StrEnum):
    """Where the resources of a kind live."""

    NAMESPACED = "Namespaced"
    CLUSTER = "Cluster"


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """A column of ``kubectl get`` (an ``additionalPrinterColumns`` entry)."""

    name: str
    json_path: str
    type: str
    description: str
    priority: int = 0

    def openapi(self) -> JsonDict:
        """The CRD's form of the column."""
        rendered: JsonDict = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            rendered["priority"] = self.priority
        return rendered


AGE_COLUMN = PrinterColumn(
    "Age", ".metadata.creationTimestamp", "date", "Time since the resource was created."
)


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One kind of a nimbus.dev API (storage or compute): everything its CRD is generated from."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Scope
    description: str
    spec: type[Any]
    status: type[Any]
    printer_columns: tuple[PrinterColumn, ...]
    group: str = STORAGE_GROUP
    version: str = API_VERSION
    categories: tuple[str, ...] = ("nimbus", "nimbus-storage")
    root_rules: tuple[Rule, ...] = ()
    """CEL rules on the whole resource, at the root of its schema: ``self`` is the object
    (the API server lets them read metadata.name). Each twin gets the body."""

    @property
    def singular(self) -> str:
        """The lowercase kind (``objectstore``)."""
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        """``<plural>.<group>``, the CRD's metadata.name (and the YAML file's stem)."""
        return f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str:
        """``<group>/<version>``, the apiVersion of the resources."""
        return f"{self.group}/{self.version}"
