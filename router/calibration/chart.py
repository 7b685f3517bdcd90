"""The calibration chart: per task, quality (y) against latency (x, log scale), one labelled
point per model, drawn as plain SVG by hand (no plotting dependency).

Small multiples, one panel per task, all sharing the latency axis and each model's colour, so
the eye can compare tasks as well as models: up is better, left is faster. A model with no
timed answer on a task (every answer failed) sits as a cross in the grey `failed` strip at the
right; a dashed ring marks a model that failed at least `RING_AT` of its answers. Labels go
where they cover the fewest points and other labels (a greedy search over twelve spots).
"""

from __future__ import annotations

import itertools
import math
from xml.sax.saxutils import escape, quoteattr

from router.profiles import Profile, TaskScore

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FONT = "font-family=\"Helvetica, Arial, 'DejaVu Sans', sans-serif\""
PANEL_W, PANEL_H = 400, 280
PLOT_L, PLOT_R, PLOT_T, PLOT_B = 44, 52, 30, 36  # plot area insets inside a panel
STRIP = 34  # the `failed` strip at the right of a plot area
MIN_WIDTH = 560  # room for the header lines
TICK_GAP = 40  # least room between two latency tick labels, px
CHAR_W = 6.2  # average width of an 11 px character, px
RING_AT = 0.1  # failure rate from which a point gets a ring and a "(n% failed)"
LABEL_CHARS = 24  # longer model names are cut with "…"
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _ticks(lo: float, hi: float, width: float) -> list[float]:
    """Latency ticks between lo and hi (seconds): 1-2-5 per decade when their labels fit in
    `width` px, else 1-3, else decades only."""
    decades = math.log10(hi) - math.log10(lo)
    out: list[float] = []
    for steps in ((1, 2, 5), (1, 3), (1,)):
        out = [
            m * 10.0**e
            for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in steps
            if lo <= m * 10.0**e <= hi
        ]
        gaps = [math.log10(b / a) / decades * width for a, b in itertools.pairwise(out)]
        if min(gaps, default=width) >= TICK_GAP:
            break
    return out


def _seconds(value: float) -> str:
    return f"{value:g} s" if value >= 1 else f"{value * 1000:g} ms"


def _range(profile: Profile) -> tuple[float, float]:
    """The shared latency axis: every task's latencies with some room, at least a decade."""
    found = [
        s.latency_seconds for scores in profile.tasks.values() for s in scores if s.latency_seconds
    ]
    if not found:
        return 0.1, 10.0
    lo, hi = min(found) / 1.6, max(found) * 1.6
    if hi / lo < 10:
        mid = math.sqrt(lo * hi)
        lo, hi = mid / math.sqrt(10), mid * math.sqrt(10)
    return lo, hi


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


class _Panel:
    """One task's panel at (x, y): maps values to pixels and places labels."""

    def __init__(self, x: float, y: float, lo: float, hi: float) -> None:
        self.left, self.top = x + PLOT_L, y + PLOT_T
        self.width = PANEL_W - PLOT_L - PLOT_R
        self.height = PANEL_H - PLOT_T - PLOT_B
        self.lo, self.hi = math.log10(lo), math.log10(hi)
        self.bounds: Box = (
            self.left + 1,
            self.top - 16,
            self.left + self.width + STRIP,
            self.bottom,
        )
        strip: Box = (self.left + self.width, self.top, self.bounds[2], self.bottom)
        self.taken: list[tuple[Box, float]] = [(strip, 1.0)]  # boxes to avoid, with weights

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def px(self, seconds: float | None, nth_failed: int = 0) -> float:
        """x of a latency; None (no timed answer): in the `failed` strip, side by side."""
        if seconds is None:
            return self.left + self.width + 9 + (nth_failed % 3) * 8
        share = (math.log10(seconds) - self.lo) / (self.hi - self.lo)
        return self.left + self.width * min(1.0, max(0.0, share))

    def py(self, quality: float) -> float:
        return self.top + self.height * (1 - min(1.0, max(0.0, quality)))

    def avoid(self, box: Box, weight: float) -> None:
        self.taken.append((box, weight))

    def place(
        self, x: float, y: float, width: float, r: float, failed: bool
    ) -> tuple[float, float, str]:
        """Where the label of the point (x, y) with marker radius r goes (x, baseline,
        anchor): the spot covering the least of other points and labels, inside the panel."""
        if failed:  # left of the strip, at the point's height or stacked above it
            spots = [(self.left + self.width - 3, y + 4 - k * 13, "end") for k in range(8)]
        else:
            spots = [
                (x + r + 3, y + 4, "start"),
                (x - r - 3, y + 4, "end"),
                (x, y - r - 4, "middle"),
                (x, y + r + 12, "middle"),
                (x + r, y - r - 3, "start"),
                (x + r, y + r + 11, "start"),
                (x - r, y - r - 3, "end"),
                (x - r, y + r + 11, "end"),
                (x + r + 3, y - 12, "start"),
                (x + r + 3, y + 20, "start"),
                (x - r - 3, y - 12, "end"),
                (x - r - 3, y + 20, "end"),
            ]
        best, best_cost = spots[0], math.inf
        for spot in spots:
            cost = self._cost(self._box(*spot, width))
            if cost < best_cost:
                best, best_cost = spot, cost
        self.avoid(self._box(*best, width), 2.0)
        return best

    @staticmethod
    def _box(x: float, base: float, anchor: str, width: float) -> Box:
        x0 = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
        return (x0, base - 10, x0 + width, base + 3)

    def _cost(self, box: Box) -> float:
        area = (box[2] - box[0]) * (box[3] - box[1])
        inside = _overlap(box, self.bounds)
        return 10 * (area - inside) + sum(w * _overlap(box, b) for b, w in self.taken)


def _text(x: float, y: float, body: str, size: int = 11, **attrs: str) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{escape(body)}</text>'


def _frame(p: _Panel, task: str, ticks: list[float]) -> list[str]:
    """The panel's title, axes, grid and the `failed` strip."""
    right = p.left + p.width
    p.avoid((p.left - PLOT_L + 8, p.top - 24, p.left - PLOT_L + 8 + len(task) * 8, p.top - 8), 5.0)
    out = [
        _text(p.left - PLOT_L + 8, p.top - 12, task, 13, font_weight="bold"),
        f'<rect x="{p.left:.1f}" y="{p.top:.1f}" width="{p.width:.1f}" '
        f'height="{p.height:.1f}" fill="#fafafa" stroke="#999"/>',
        f'<rect x="{right:.1f}" y="{p.top:.1f}" width="{STRIP}" height="{p.height:.1f}" '
        'fill="#eee" stroke="#999"/>',
        _text(right + STRIP / 2, p.top - 4, "failed", 10, text_anchor="middle", fill="#666"),
    ]
    return out + _grid(p, ticks) + _axis_titles(p)


def _grid(p: _Panel, ticks: list[float]) -> list[str]:
    """The panel's grid lines with their labels: quality quarters, latency ticks."""
    right, bottom = p.left + p.width, p.bottom
    out: list[str] = []
    for q in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = p.py(q)
        out.append(
            f'<line x1="{p.left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(_text(p.left - 5, y + 4, f"{q:g}", 10, text_anchor="end", fill="#444"))
    for t in ticks:
        x = p.px(t)
        out.append(
            f'<line x1="{x:.1f}" y1="{p.top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#e4e4e4"/>'
        )
        out.append(_text(x, bottom + 14, _seconds(t), 10, text_anchor="middle", fill="#444"))
    return out


def _axis_titles(p: _Panel) -> list[str]:
    """'latency p50 (log scale)' under the panel, 'quality' up its left side."""
    mid = p.top + p.height / 2
    return [
        _text(
            p.left + p.width / 2,
            p.bottom + 29,
            "latency p50 (log scale)",
            10,
            text_anchor="middle",
            fill="#666",
        ),
        _text(
            p.left - 33,
            mid,
            "quality",
            10,
            fill="#666",
            text_anchor="middle",
            transform=f"rotate(-90 {p.left - 33:.1f} {mid:.1f})",
        ),
    ]


def short_name(model: str) -> str:
    """A model's label: the part after the last '/', cut to LABEL_CHARS."""
    name = model.rsplit("/", 1)[-1]
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def _marker(x: float, y: float, score: TaskScore, colour: str) -> str:
    if score.latency_seconds is None:
        return (
            f'<path d="M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} M{x - 5:.1f},'
            f'{y + 5:.1f} L{x + 5:.1f},{y - 5:.1f}" stroke="{colour}" stroke-width="2.5"/>'
        )
    mark = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5.5" fill="{colour}" stroke="#fff"/>'
    if score.failure_rate >= RING_AT:
        mark += (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" stroke="#d62728" '
            'stroke-width="1.5" stroke-dasharray="3 2"/>'
        )
    return mark


def _points(p: _Panel, scores: list[TaskScore], colours: dict[str, str]) -> list[str]:
    """Every model's marker first (so labels avoid them all), then the labels, best first."""
    order = sorted(scores, key=lambda s: -s.quality)
    failed = itertools.count()
    where = {
        s.model: (
            p.px(s.latency_seconds, next(failed) if s.latency_seconds is None else 0),
            p.py(s.quality),
        )
        for s in order
    }
    out = []
    for s in order:
        x, y = where[s.model]
        r = 9.0 if s.failure_rate >= RING_AT and s.latency_seconds is not None else 6.0
        p.avoid((x - r, y - r, x + r, y + r), 3.0)
        title = (
            f"{s.model}: quality {s.quality:.2f}, latency "
            f"{_seconds(s.latency_seconds) if s.latency_seconds else 'n/a'}, "
            f"{s.failure_rate:.0%} failed"
        )
        out.append(f"<g><title>{escape(title)}</title>{_marker(x, y, s, colours[s.model])}</g>")
    for s in order:
        x, y = where[s.model]
        name = short_name(s.model)
        ringed = s.failure_rate >= RING_AT and s.latency_seconds is not None
        name += f" ({s.failure_rate:.0%} failed)" if ringed else ""
        lx, ly, anchor = p.place(
            x, y, len(name) * CHAR_W, 10.0 if ringed else 6.0, s.latency_seconds is None
        )
        fill = colours[s.model] if s.latency_seconds is None else "#222"
        out.append(_text(lx, ly, name, 11, text_anchor=anchor, fill=fill))
    return out


def _legend(models: list[str], colours: dict[str, str], width: float) -> tuple[list[str], float]:
    """One coloured dot and name per model, wrapped to `width`; and the y below it."""
    out, x, y = [], 16.0, 80.0
    for model in models:
        span = 22 + len(model) * CHAR_W
        if x + span > width - 16 and x > 16:
            x, y = 16.0, y + 16
        out.append(f'<circle cx="{x + 5:.1f}" cy="{y - 4:.1f}" r="5" fill="{colours[model]}"/>')
        out.append(_text(x + 14, y, model, 11, fill="#222"))
        x += span + 14
    return out, y + 10


def render_svg(profile: Profile) -> str:
    """The whole chart as an SVG document."""
    tasks = list(profile.tasks)
    models = list(
        dict.fromkeys(
            [m.id for m in profile.models]
            + [s.model for scores in profile.tasks.values() for s in scores]
        )
    )
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    cols = 1 if len(tasks) <= 1 else 2 if len(tasks) <= 4 else 3
    rows = max(1, math.ceil(len(tasks) / cols))
    width = max(cols * PANEL_W + 16, MIN_WIDTH)
    legend, top = _legend(models, colours, width)
    height = round(top + rows * PANEL_H + 8)
    lo, hi = _range(profile)
    ticks = _ticks(lo, hi, PANEL_W - PLOT_L - PLOT_R)
    body = [*_heading(profile, width, height), *legend]
    if not tasks:
        body.append(_text(16, top + 20, "no task was measured", 12))
    for i, task in enumerate(tasks):
        panel = _Panel(8 + (i % cols) * PANEL_W, top + (i // cols) * PANEL_H, lo, hi)
        body += _frame(panel, task, ticks)
        body += _points(panel, profile.tasks[task], colours)
    body.append("</svg>")
    return "\n".join(body) + "\n"


def _heading(profile: Profile, width: int, height: int) -> list[str]:
    """The document's opening, its white ground, the title and the two lines under it."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" {FONT}>',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        _text(16, 24, "Quality against latency, per task", 16, font_weight="bold"),
        _text(
            16, 42, f"{profile.machine.chip or 'this machine'} · {profile.created}", 11, fill="#555"
        ),
        _text(
            16,
            58,
            "up is better, left is faster · dashed ring: failed "
            f"{RING_AT:.0%} or more of its answers · × in the grey strip: no timed answer",
            11,
            fill="#555",
        ),
    ]
