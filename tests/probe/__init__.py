"""Fault (probe) tests against a real storage cluster on loopback."""
