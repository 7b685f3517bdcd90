"""In-process models with mlx-lm: the backend, one generation thread per resident model,
residency (memory budget, eviction), and the request fields, prompts, sampling, tool calls,
JSON mode and output shapes of in-process answers."""
