"""Client wrappers: the one place Kubernetes and admin-API errors are translated."""
