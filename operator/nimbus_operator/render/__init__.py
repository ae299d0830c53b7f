"""Pure renderers: models in, Kubernetes object dicts out (no kopf, no HTTP, no client)."""
