"""Frozen dataclass models of the storage.nimbus.dev and compute.nimbus.dev custom resources.

One module per kind (`objectstore`, `storagepolicy`, `bucket` with `bucketsettings`,
`bucketaccess`) declares its spec and status with `schema.model` and `schema.prop`; the
same declarations give the parser (``Spec.from_body``), its defaults, and the CRD YAML that
`crdgen` writes into crds/. `common` holds what the kinds share: `SpecError`, conditions,
`parse_quantity`, object metadata. The compute kinds live in the `compute` package.
"""
