"""The serving benchmark's figures read and judged: no I/O, so it is tested on its own.

`servers` maps a server's name ("router", "mlx_lm.server", "router, no cache") to what was
measured on it, each part optional:

- `decode`: {"tok_s": median single-stream decode speed, counted from the first token, ...};
- `concurrency`: [{"streams": n, "tokens": made, "wall_s": s, "tok_s": tokens / wall_s}, ...];
- `turns`: [{"turn": k, "ttft_s": s, "prompt_tokens": p, "cached_tokens": c, ...}, ...];
- `memory`: {"peak_bytes": VmHWM, "start_bytes": VmRSS when ready (the router loads its
  model on the first request; mlx_lm.server may have loaded it already), and for the router
  "budget_bytes", "weights_bytes", "cache_bound_bytes", "kv_bound_bytes", "reserved_bytes"}.
"""

from __future__ import annotations

from typing import Any

ROUTER, MLX = "router", "mlx_lm.server"
MB = 1024 * 1024
Servers = dict[str, dict[str, Any]]


def status_bytes(status: str, field: str) -> int | None:
    """A memory field of /proc/<pid>/status ("VmHWM:  123456 kB") in bytes; None if absent."""
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            value, *unit = rest.split()
            return int(value) * (1024 if unit == ["kB"] else 1)
    return None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def decode_rate(server: dict[str, Any]) -> float | None:
    return (server.get("decode") or {}).get("tok_s")


def aggregate(server: dict[str, Any], streams: int) -> float | None:
    rows = server.get("concurrency") or []
    return next((r["tok_s"] for r in rows if r["streams"] == streams), None)


def ttft(server: dict[str, Any], turn: int) -> float | None:
    rows = server.get("turns") or []
    return next((r["ttft_s"] for r in rows if r["turn"] == turn), None)


def _target(name: str, value: float | None, goal: str, met: bool | None) -> dict[str, Any]:
    return {"target": name, "value": value, "goal": goal, "met": met}


def _at_least(name: str, value: float | None, bound: float) -> dict[str, Any]:
    return _target(name, value, f">= {bound:g}", None if value is None else value >= bound)


def memory_target(router: dict[str, Any]) -> dict[str, Any]:
    """The model's memory in the router's process (peak less the RSS before it loaded) within
    what residency reserves for it (weights + prompt cache bound + generating KV allowance),
    itself within the budget."""
    memory = router.get("memory") or {}
    name = "router memory: model's peak growth / reserved (weights + prompt cache + KV bounds)"
    keys = ("peak_bytes", "start_bytes", "reserved_bytes", "budget_bytes")
    if any(memory.get(key) is None for key in keys):
        return _target(name, None, "<= 1, reserved <= budget", None)
    growth = memory["peak_bytes"] - memory["start_bytes"]
    value = growth / memory["reserved_bytes"]
    met = value <= 1.0 and memory["reserved_bytes"] <= memory["budget_bytes"]
    return _target(name, value, "<= 1, reserved <= budget", met)


def targets(servers: Servers, turn: int = 5) -> list[dict[str, Any]]:
    """Issue 16's targets, each met (True), not met (False) or not measured (None)."""
    router, mlx = servers.get(ROUTER, {}), servers.get(MLX, {})
    late = ratio(ttft(router, turn), ttft(mlx, turn))
    return [
        _at_least(
            "single-stream decode, router / mlx_lm.server",
            ratio(decode_rate(router), decode_rate(mlx)),
            0.95,
        ),
        _at_least(
            "4-stream aggregate, router / mlx_lm.server",
            ratio(aggregate(router, 4), aggregate(mlx, 4)),
            1.2,
        ),
        _at_least(
            "4-stream aggregate / router's own 1-stream aggregate",
            ratio(aggregate(router, 4), aggregate(router, 1)),
            1.5,
        ),
        _target(
            f"turn-{turn} time to first token, router / mlx_lm.server",
            late,
            "<= 1",
            None if late is None else late <= 1.0,
        ),
        memory_target(router),
    ]


def progress(run: dict[str, Any]) -> str:
    """One run (a decode run, a level of streams, a turn) in a few words."""
    if "streams" in run:
        return f"{run['streams']} streams, {run['tokens']} tokens, {run['tok_s']:.2f} tok/s"
    if "turn" in run:
        return f"turn {run['turn']}, {run['ttft_s']:.2f} s to the first token"
    return f"decode, {run['tokens']} tokens, {run['tok_s'] or 0:.2f} tok/s"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / MB:.0f} MB"


def _row(label: str, cells: list[str], ratio_cell: str = "") -> str:
    return f"| {label} | " + " | ".join(cells) + f" | {ratio_cell} |"


def _speed_rows(servers: Servers) -> list[str]:
    names = list(servers)
    rows = []
    if any("decode" in s for s in servers.values()):
        speeds = [decode_rate(servers[n]) for n in names]
        pair = ratio(decode_rate(servers.get(ROUTER, {})), decode_rate(servers.get(MLX, {})))
        rows.append(_row("single-stream decode, tok/s", [_num(v) for v in speeds], _num(pair)))
    counts = sorted({r["streams"] for s in servers.values() for r in s.get("concurrency", [])})
    for n in counts:
        cells = [_num(aggregate(servers[name], n)) for name in names]
        pair = ratio(aggregate(servers.get(ROUTER, {}), n), aggregate(servers.get(MLX, {}), n))
        label = f"{n} stream{'s' if n > 1 else ''} at once, aggregate tok/s"
        rows.append(_row(label, cells, _num(pair)))
    return rows


def _turn_cell(server: dict[str, Any], turn: int) -> str:
    row = next((r for r in server.get("turns") or [] if r["turn"] == turn), None)
    if row is None:
        return "—"
    return f"{row['ttft_s']:.2f} ({row['cached_tokens']}/{row['prompt_tokens']} cached)"


def _turn_rows(servers: Servers) -> list[str]:
    turns = sorted({r["turn"] for s in servers.values() for r in s.get("turns") or []})
    rows = []
    for k in turns:
        pair = ratio(ttft(servers.get(ROUTER, {}), k), ttft(servers.get(MLX, {}), k))
        cells = [_turn_cell(servers[name], k) for name in servers]
        rows.append(_row(f"time to first token, turn {k}, s", cells, _num(pair)))
    return rows


def _memory_rows(servers: Servers) -> list[str]:
    if not any("memory" in s for s in servers.values()):
        return []
    memory = [servers[name].get("memory") or {} for name in servers]
    peak = [m.get("peak_bytes") for m in memory]
    rows = [_row("peak memory (VmHWM)", [_mb(v) for v in peak])]
    rows.append(
        _row(
            "memory when ready (the router: before the model loads)",
            [_mb(m.get("start_bytes")) for m in memory],
        )
    )
    for key, label in (
        ("reserved_bytes", "reserved for the model (weights + prompt cache + KV bounds)"),
        ("budget_bytes", "the router's memory budget"),
    ):
        rows.append(_row(label, [_mb(m.get(key)) for m in memory]))
    return rows


def table(servers: Servers) -> str:
    """The measures side by side (a column per server, mlx_lm.server's first, then the
    router's; the router / mlx_lm.server ratio last)."""
    first = [name for name in (MLX, ROUTER) if name in servers]
    servers = {name: servers[name] for name in [*first, *(n for n in servers if n not in first)]}
    head = _row("measure", list(servers), "router / mlx_lm.server")
    lines = [head, "| --- |" + " --- |" * (len(servers) + 1)]
    lines += _speed_rows(servers) + _turn_rows(servers) + _memory_rows(servers)
    if any("load_average" in s for s in servers.values()):
        loads = [servers[name].get("load_average") or [] for name in servers]
        cells = [" → ".join(f"{v:.1f}" for v in load) or "—" for load in loads]
        lines.append(_row("load average of the machine, start → end", cells))
    return "\n".join(lines)


def targets_table(results: list[dict[str, Any]]) -> str:
    lines = ["| target | measured | goal | |", "| --- | --- | --- | --- |"]
    for t in results:
        verdict = {True: "met", False: "not met", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {_num(t['value'])} | {t['goal']} | {verdict} |")
    return "\n".join(lines)
