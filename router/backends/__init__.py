"""Backends: what runs a model. `protocol` is the one seam (`Backend`); `openai` speaks to any
OpenAI-compatible server over `http/` (the router's own HTTP/1.1 pool); `mlx/` runs models in
this process with mlx-lm."""
