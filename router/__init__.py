"""router: an OpenAI-compatible proxy that sends each request to the local model fit for it."""

__version__ = "0.1.0"
