"""Reconcilers: compare desired and observed state, act through clients."""
