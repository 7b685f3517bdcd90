"""Serving: the running proxy. The service and its lifecycle, the catalogue of models and
replicas, admission (concurrency, queues, breakers), dispatch with fallback, discovery of
local servers, and the dry run of `router route`."""
