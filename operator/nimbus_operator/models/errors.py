"""The one error the models raise: a spec that cannot be used, and where it is wrong."""

from __future__ import annotations


class SpecError(ValueError):
    """A field of a custom resource holds a value the operator cannot use.

    ``field_path`` is the dotted path below the root (``nodes.count``, ``bucketClaims[0].id``);
    ``str(error)`` is the sentence shown to a person, e.g.
    ``spec.nodes.count: must be at least 1 (got 0)``.
    """

    def __init__(self, field_path: str, message: str, *, root: str = "spec") -> None:
        self.field_path = field_path
        self.message = message
        self.root = root
        super().__init__(f"{self.path}: {message}")

    @property
    def path(self) -> str:
        """The full path of the field, starting at the root (``spec.nodes.count``)."""
        if not self.field_path:
            return self.root
        separator = "" if self.field_path.startswith("[") else "."
        return f"{self.root}{separator}{self.field_path}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.field_path, self.message, self.root))


def _rebuild(field_path: str, message: str, root: str) -> SpecError:
    return SpecError(field_path, message, root=root)


def join_path(parent: str, child: str | int) -> str:
    """``join_path("nodes", "count")`` is ``nodes.count``; an int child is a list index."""
    if isinstance(child, int):
        return f"{parent}[{child}]"
    return f"{parent}.{child}" if parent else child
