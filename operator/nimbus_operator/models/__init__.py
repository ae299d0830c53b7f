"""Frozen dataclass models of the custom resources."""
