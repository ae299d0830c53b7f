"""kopf handlers: validate the body into a model, call one reconciler, return status."""
