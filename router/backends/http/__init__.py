"""A small HTTP/1.1 client for the hot path: `pool` (keep-alive connections per upstream, under
httpx's API) over `connection` (one connection fed by the httptools parser)."""
