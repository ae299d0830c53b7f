"""Reconcilers of compute.nimbus.dev: Flavor, Image, KeyPair, ServerGroup, ComputeQuota and
VirtualServer (Nova's concepts, run on KubeVirt)."""
