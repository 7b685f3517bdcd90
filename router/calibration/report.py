"""What a person reads about a profile: calibration progress, the summary tables printed at
the end of `router calibrate`, `router profiles`' listing, and the Markdown report with its
chart (`router.calibration.chart`, written beside it as `<report>.svg` and embedded by relative
link).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from router.calibration.chart import RING_AT, render_svg
from router.profiles import Capabilities, Failures, ModelProfile, Profile, write_atomically

BAR = 10  # progress bar cells


class Progress:
    """One line per model and task on `out`: redrawn with \\r on a terminal, else printed once
    when the step ends, e.g. `[2/6] gemma  business_mail  ██████░░░░ 6/10`."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.tty = self.out.isatty()
        self.steps, self.model_width, self.task_width = 0, 0, 0
        self.head = ""
        self.total = 0

    def plan(self, models: list[str], tasks: list[str], extra: int = 0) -> None:
        """`extra`: steps after the models' (the judge's check and judging)."""
        self.steps = len(models) * (len(tasks) + 1) + extra
        self.model_width = max(map(len, models), default=0)
        self.task_width = max(map(len, [*tasks, "capabilities"]))

    def begin(self, step: int, model: str, task: str, total: int) -> None:
        width = len(str(self.steps))
        self.head = (
            f"[{step:>{width}}/{self.steps}] {model:<{self.model_width}}  {task:<{self.task_width}}"
        )
        self.total = total
        if self.tty:
            self._draw(0, 0, "\r")

    def advance(self, done: int, failed: int) -> None:
        if self.tty:
            self._draw(done, failed, "\r")

    def end(self, done: int, failed: int) -> None:
        self._draw(done, failed, "\r" if self.tty else "")
        self.out.write("\n")
        self.out.flush()

    def _draw(self, done: int, failed: int, lead: str) -> None:
        cells = round(BAR * done / self.total) if self.total else BAR
        note = f"  {failed} failed" if failed else ""
        line = f"{self.head}  {'█' * cells}{'░' * (BAR - cells)} {done}/{self.total}{note}"
        self.out.write(f"{lead}{line}\033[K" if self.tty else line)
        self.out.flush()


# ---------------------------------------------------------------- formatting


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _bytes(value: int | None) -> str:
    return (
        "-" if not value else f"{value / 1e9:.2f} GB" if value >= 1e9 else f"{value / 1e6:.0f} MB"
    )


def failure_text(failures: Failures) -> str:
    kinds = failures.__struct_fields__
    return ", ".join(f"{k} {getattr(failures, k)}" for k in kinds if getattr(failures, k)) or "none"


def _cap(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as aligned text lines (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _best_rows(profile: Profile) -> list[list[str]]:
    rows = [["TASK", "BEST MODEL", "QUALITY", "LATENCY P50", "FAILED"]]
    for task, scores in profile.tasks.items():
        if scores:
            b = scores[0]
            rows.append(
                [task, b.model, f"{b.quality:.2f}", _s(b.latency_seconds), f"{b.failure_rate:.0%}"]
            )
        else:
            rows.append([task, "-", "-", "-", "-"])
    return rows


def _model_rows(models: list[ModelProfile]) -> list[list[str]]:
    rows = [["MODEL", "TOKENS/S", "TTFT P50", "E2E P50", "E2E P95", "LOAD", "FAILURES"]]
    for m in models:
        rows.append(
            [
                m.id,
                _rate(m.decode_tokens_per_s),
                _s(m.ttft_seconds),
                _s(m.e2e_p50_seconds),
                _s(m.e2e_p95_seconds),
                _s(m.load_seconds),
                failure_text(m.failures),
            ]
        )
    return rows


def summary(profile: Profile) -> str:
    """The tables `router calibrate` prints at the end: per task and per model."""
    lines = [
        "Best model per task",
        *table(_best_rows(profile)),
        "",
        "Models",
        *table(_model_rows(profile.models)),
    ]
    return "\n".join(lines)


def describe(profile: Profile, where: str) -> str:
    """`router profiles`: where it is from, the machine, when; per task the ranked models."""
    m = profile.machine
    memory = f", {m.memory_bytes / 2**30:.0f} GB" if m.memory_bytes else ""
    lines = [
        f"profile: {where}",
        f"machine: {m.chip or '?'}{memory}{', ' + m.os if m.os else ''}",
        f"made: {profile.created or '?'} ({profile.kind}"
        f"{', router ' + profile.router_version if profile.router_version else ''}"
        f"{', suite ' + profile.suite_hash[:12] if profile.suite_hash else ''})",
    ]
    if profile.source:
        lines.append(f"source: {profile.source}")
    if profile.judge:
        lines.append(f"judge: {profile.judge}")
    for task, scores in profile.tasks.items():
        lines += ["", task]
        rows = [
            [
                f"  {i}.",
                s.model,
                f"quality {s.quality:.2f}",
                f"latency {_s(s.latency_seconds)}",
                f"failures {s.failure_rate:.0%}",
                s.confidence(),
            ]
            for i, s in enumerate(scores, start=1)
        ]
        lines += table(rows) if rows else ["  (no model)"]
    if profile.models:
        lines += ["", "models", *("  " + line for line in table(_model_rows(profile.models)))]
    return "\n".join(lines)


# ---------------------------------------------------------------- Markdown


def _md(rows: list[list[str]]) -> list[str]:
    """A Markdown table (first row: header); `|` in cells escaped."""
    cells = [[c.replace("|", "\\|") for c in row] for row in rows]
    out = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    return out + ["| " + " | ".join(row) + " |" for row in cells[1:]]


def _md_models(models: list[ModelProfile]) -> list[list[str]]:
    rows = [
        [
            "model",
            "backend",
            "decode tok/s",
            "prompt tok/s",
            "TTFT p50",
            "e2e p50",
            "e2e p95",
            "load",
            "memory",
            "requests",
            "failures",
        ]
    ]
    for m in models:
        rows.append(
            [
                f"`{m.id}`",
                m.backend,
                _rate(m.decode_tokens_per_s),
                _rate(m.prompt_tokens_per_s),
                _s(m.ttft_seconds),
                _s(m.e2e_p50_seconds),
                _s(m.e2e_p95_seconds),
                _s(m.load_seconds),
                _bytes(m.peak_memory_bytes),
                str(m.requests),
                failure_text(m.failures),
            ]
        )
    return rows


def markdown(profile: Profile, chart_name: str | None) -> str:
    """The report: summary, chart, rankings, failures by kind, capabilities."""
    out = _md_summary(profile)
    if chart_name:
        out += [
            f"![Quality against latency per task]({chart_name})",
            "",
            "Up is better, left is faster (log scale). A dashed ring marks a model that "
            f"failed {RING_AT:.0%} or more of its answers; a cross in the grey strip, a model "
            "with no timed answer.",
            "",
        ]
    out += ["## Models", "", *_md(_md_models(profile.models)), "", "## Rankings per task"]
    out += _md_rankings(profile) + _md_failures(profile) + _md_capabilities(profile)
    return "\n".join(out)


def _md_summary(profile: Profile) -> list[str]:
    """The report's title, where and how it was made, and the best model per task."""
    m = profile.machine
    versions = "; ".join(f"{k}: {v}" for k, v in profile.backend_versions.items()) or "-"
    return [
        f"# Calibration report: {m.chip or 'this machine'}",
        "",
        f"Made {profile.created or '?'} by router {profile.router_version or '?'} "
        f"({profile.kind} profile). {profile.source}",
        "",
        f"- Machine: {m.chip or '?'}, {m.memory_bytes / 2**30:.0f} GB, {m.os or '?'}",
        f"- Backends: {versions}",
        f"- Suite hash: `{profile.suite_hash[:16] or '-'}`",
        *([f"- Judge: {profile.judge}"] if profile.judge else []),
        "",
        "## Best model per task",
        "",
        *_md([[c.lower() for c in _best_rows(profile)[0]], *_best_rows(profile)[1:]]),
        "",
    ]


def _md_rankings(profile: Profile) -> list[str]:
    """One table per task: its models in rank order."""
    out: list[str] = []
    for task, scores in profile.tasks.items():
        rows = [["#", "model", "quality", "latency p50", "failure rate", "samples", "confidence"]]
        rows += [
            [
                str(i),
                f"`{s.model}`",
                f"{s.quality:.2f}",
                _s(s.latency_seconds),
                f"{s.failure_rate:.0%}",
                str(s.samples),
                s.confidence() if s.measured is not None else "",
            ]
            for i, s in enumerate(scores, start=1)
        ]
        out += ["", f"### {task}", "", *_md(rows)]
    return out


def _md_failures(profile: Profile) -> list[str]:
    kinds = list(Failures.__struct_fields__)
    rows = [["model", *kinds]] + [
        [f"`{p.id}`", *(str(getattr(p.failures, k)) for k in kinds)] for p in profile.models
    ]
    return [
        "",
        "## Failures by kind",
        "",
        "Over the suite prompts each model was given.",
        "",
        *_md(rows),
    ]


def _md_capabilities(profile: Profile) -> list[str]:
    caps = [k for k in Capabilities.__struct_fields__ if k != "vision"]
    rows = [["model", *caps]] + [
        [f"`{p.id}`", *(_cap(getattr(p.capabilities, k)) for k in caps)] for p in profile.models
    ]
    return [
        "",
        "## Capabilities",
        "",
        "yes: seen to work; no: seen not to; -: could not tell.",
        "",
        *_md(rows),
        "",
    ]


def write_report(profile: Profile, path: Path) -> Path:
    """Write the Markdown report to `path` and its chart beside it; returns the chart's path."""
    chart = path.with_suffix(".svg")
    write_atomically(chart, render_svg(profile).encode())
    write_atomically(path, markdown(profile, chart.name).encode())
    return chart
