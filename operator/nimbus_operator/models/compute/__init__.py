"""Frozen dataclass models of the compute.nimbus.dev custom resources: Nova's concepts on KubeVirt.

One module per kind, declared with `nimbus_operator.models.schema` as the storage kinds are:
`flavor` (cluster-wide sizes), `image` (boot images), `keypair` (SSH keys, parsed by
`sshkeys`), `servergroup` ((anti-)affinity groups), `virtualserver` (servers, with the parts
of their spec in `serverparts`) and `quota` (ComputeQuota). `names` holds the name schemas
they share. `crdgen` registers their kinds with the storage ones.
"""
