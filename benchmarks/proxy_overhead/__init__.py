"""The proxy-overhead benchmark: direct vs router vs LiteLLM; see `run.py`."""
