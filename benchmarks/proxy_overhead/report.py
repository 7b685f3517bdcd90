"""The proxy benchmark's report: overheads over going direct (and over the router's chat), the
router's own histograms read from /metrics, and the table."""

from __future__ import annotations

from typing import Any

import httpx


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """PromQL's histogram_quantile over (upper bound, cumulative count) pairs."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if not total:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def router_own_view(root: str) -> dict[str, float]:
    """p50/p99 of `router_overhead_seconds` and `router_classification_seconds` (the router's
    own measurement: time in the router, upstream excluded; time to classify)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(root + "/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("router_overhead_seconds", "router_classification_seconds"):
            continue
        buckets = [
            (float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")
        ]
        short = family.name.removeprefix("router_").removesuffix("_seconds")
        for q in (0.5, 0.99):
            found[f"{short}_p{round(q * 100)}"] = round(histogram_quantile(q, buckets) * 1e3, 4)
    return found


def overheads(targets: list[Any]) -> dict[str, dict[str, float]]:
    """Each proxy's latencies minus going direct (the first target), measured in the same run;
    `targets`: `run.Target`s (name, results)."""
    direct = targets[0].results
    out: dict[str, dict[str, float]] = {}
    for target in targets[1:]:
        row: dict[str, float] = {}
        for key, field_ in (
            ("c1", "p50_ms"),
            ("c1", "p90_ms"),
            ("c1", "p99_ms"),
            ("stream", "ttfb_p50_ms"),
            ("stream", "p50_ms"),
        ):
            mine, base = target.results[key].get(field_), direct[key].get(field_)
            if isinstance(mine, float) and isinstance(base, float):
                row[f"{key}_{field_}"] = round(mine - base, 4)
        out[target.name] = row
    chat = next((t.results for t in targets if t.name == "router"), None)
    for target in targets:
        if chat is None or getattr(target, "protocol", "chat") == "chat":
            continue
        for key, field_ in (("c1", "p50_ms"), ("stream", "ttfb_p50_ms")):  # the translation's cost
            mine, base = target.results[key].get(field_), chat[key].get(field_)
            if isinstance(mine, float) and isinstance(base, float):
                out[target.name][f"over_chat_{key}_{field_}"] = round(mine - base, 4)
    return out


def table(report: dict[str, object], loads: list[int]) -> str:
    targets: dict[str, dict[str, object]] = report["targets"]  # type: ignore[assignment]
    head = ["", "c1 p50", "c1 p90", "c1 p99"]
    for c in loads:
        head += [f"c{c} req/s", f"c{c} p99"]
    head += ["stream ttfb", "stream total", "CPU/req", "RSS (peak)"]
    rows = [head]
    for name, res in targets.items():
        c1 = res["c1"]
        row = [
            name,
            f"{c1['p50_ms']:.3f} ms",
            f"{c1['p90_ms']:.3f} ms",  # type: ignore[index]
            f"{c1['p99_ms']:.3f} ms",
        ]  # type: ignore[index]
        for c in loads:
            loaded = res[f"c{c}"]
            row += [f"{loaded['rps']:.0f}", f"{loaded['p99_ms']:.2f} ms"]  # type: ignore[index]
            if loaded["errors"]:  # type: ignore[index]
                row[-2] += f" ({loaded['errors']} err)"  # type: ignore[index]
        stream = res["stream"]
        cpu = res[f"c{loads[0]}"]["cpu_us_per_request"] if loads else c1["cpu_us_per_request"]  # type: ignore[index]
        row += [
            f"{stream['ttfb_p50_ms']:.3f} ms",
            f"{stream['p50_ms']:.3f} ms",  # type: ignore[index]
            f"{cpu:.0f} µs" if cpu else "-",
            f"{res['rss_after_mb']:.0f} MB ({res['peak_rss_mb']:.0f})",
        ]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.append("")
    lines.append("overhead over direct (ms, same run): ")
    for name, row in report["overhead_ms"].items():  # type: ignore[attr-defined]
        parts = ", ".join(f"{k} {v:+.3f}" for k, v in row.items())
        lines.append(f"  {name}: {parts}")
    own = report["router_metrics_ms"]
    lines.append(
        "the router's own histograms (ms, every request of the run): "
        + ", ".join(f"{k} {v:.3f}" for k, v in own.items())  # type: ignore[attr-defined]
    )
    m = report["machine"]
    lines.append(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "  # type: ignore[index]
        f"{m['os']}, Python {m['python']}; one worker each; "  # type: ignore[index]
        f"CPU/req at c={loads[0] if loads else 1}, the proxy process only; RSS after the load "
        "(peak: VmHWM, start-up included)"
    )
    return "\n".join(lines)
