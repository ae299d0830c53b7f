"""Nimbus operator: reconciles the storage.nimbus.dev and compute.nimbus.dev custom resources.

Layers (enforced by import-linter, see pyproject.toml), one direction only:
handlers -> reconcilers -> {render, clients} -> models -> constants.
"""
