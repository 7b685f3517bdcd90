"""router: an OpenAI-compatible proxy that routes each request to the local model that fits its task."""

__version__ = "0.1.0"
