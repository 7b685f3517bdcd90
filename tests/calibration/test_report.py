"""The report: progress lines, summary tables, `router profiles`' text, Markdown and the chart.

The chart is checked as a drawing: valid SVG, every task a panel, every model a point inside
its panel at the right place (log latency, linear quality), labels inside the picture and not
on top of each other, on the shipped example profile (six models with long names) and on
edge cases (a model with no timed answer, a single task, no task).
"""

from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from router.calibration import chart
from router.calibration.report import Progress, describe, markdown, summary, write_report
from router.paths import example_profiles
from router.profiles import (
    Capabilities,
    Failures,
    Machine,
    ModelProfile,
    Profile,
    TaskScore,
    load_profile,
)

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLE = example_profiles() / "m4-mac-mini-24gb.toml"


def small_profile() -> Profile:
    return Profile(
        schema_version=1,
        created="2026-03-01T10:00:00Z",
        source="router calibrate (test)",
        machine=Machine("Apple M4", 24 * 2**30, "macOS 15"),
        router_version="0.1.0",
        backend_versions={"lm": "openai-compatible 127.0.0.1:1234"},
        suite_hash="ab" * 32,
        models=[
            ModelProfile(
                "org/good|model",
                backend="lm",
                ttft_seconds=0.8,
                decode_tokens_per_s=21.5,
                e2e_p50_seconds=4.2,
                e2e_p95_seconds=9.0,
                load_seconds=3.1,
                requests=16,
                capabilities=Capabilities(json_schema=True, tools=False),
            ),
            ModelProfile("looper", backend="lm", requests=16, failures=Failures(loop=16)),
        ],
        tasks={
            "qa": [
                TaskScore("org/good|model", 0.9, 2.0, 0.0, 2),
                TaskScore("looper", 0.0, None, 1.0, 2),
            ],
            "translate": [
                TaskScore("org/good|model", 0.75, 3.5, 0.5, 2),
                TaskScore("looper", 0.0, None, 1.0, 2),
            ],
        },
    )


def _texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}text"))


def test_chart_of_the_example_profile_places_every_point_right() -> None:
    profile = load_profile(EXAMPLE)
    root = ET.fromstring(chart.render_svg(profile))
    width, height = float(root.get("width")), float(root.get("height"))
    titles = [t.text for t in _texts(root) if t.get("font-weight") == "bold"]
    assert titles[1:] == list(profile.tasks)
    dots = [c for c in root.iter(f"{SVG}circle") if c.get("r") == "5.5"]
    assert len(dots) == sum(len(s) for s in profile.tasks.values())
    lo, hi = chart._range(profile)
    # the first panel (summarize): x is log latency, y is quality, inside the plot area
    panel = chart._Panel(8, 0, lo, hi)
    first = profile.tasks["summarize"]
    for score, dot in zip(sorted(first, key=lambda s: -s.quality), dots, strict=False):
        x = float(dot.get("cx"))
        share = (math.log10(score.latency_seconds) - math.log10(lo)) / math.log10(hi / lo)
        assert x == pytest.approx(panel.left + share * panel.width, abs=0.1)
    for dot in dots:
        assert 0 < float(dot.get("cx")) < width and 0 < float(dot.get("cy")) < height


def _label_boxes(root: ET.Element) -> list[tuple[float, float, float, float]]:
    boxes = []
    for t in _texts(root):
        if t.get("font-size") != "11" or t.get("transform"):
            continue
        x, y, w = float(t.get("x")), float(t.get("y")), len(t.text or "") * chart.CHAR_W
        anchor = t.get("text-anchor", "start")
        x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
        boxes.append((x0, y - 8, x0 + w, y + 2))  # the glyphs' extent, about
    return boxes


def test_labels_stay_in_the_picture_and_apart() -> None:
    root = ET.fromstring(chart.render_svg(load_profile(EXAMPLE)))
    width = float(root.get("width"))
    boxes = _label_boxes(root)[3:]  # past the header lines
    assert all(b[0] >= 0 and b[2] <= width for b in boxes)
    overlaps = sum(chart._overlap(a, b) > 20 for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert overlaps == 0


def test_chart_edge_cases() -> None:
    root = ET.fromstring(chart.render_svg(small_profile()))
    crosses = list(root.iter(f"{SVG}path"))
    assert len(crosses) == 2  # the looper on both tasks: no timed answer
    texts = [t.text for t in _texts(root)]
    assert "translate" in texts and "good|model (50% failed)" in texts  # short name, ring
    rings = [c for c in root.iter(f"{SVG}circle") if c.get("stroke-dasharray")]
    assert len(rings) == 1
    empty = ET.fromstring(chart.render_svg(Profile(schema_version=1)))
    assert "no task was measured" in [t.text for t in _texts(empty)]
    one = Profile(schema_version=1, tasks={"qa": [TaskScore("m", 0.5, 0.02, 0.0, 1)]})
    assert float(ET.fromstring(chart.render_svg(one)).get("width")) == chart.MIN_WIDTH


def test_ticks_fit_their_labels() -> None:
    assert chart._ticks(0.5, 30, 300) == [0.5, 1, 2, 5, 10, 20]
    assert chart._ticks(0.003, 300, 300) == [0.01, 0.1, 1, 10, 100]
    assert chart._seconds(0.05) == "50 ms" and chart._seconds(20) == "20 s"
    assert chart.short_name("a/" + "x" * 40).endswith("…")


def test_markdown_report(tmp_path: Path) -> None:
    report = tmp_path / "out" / "cal.md"
    svg = write_report(small_profile(), report)
    assert svg == tmp_path / "out" / "cal.svg" and ET.parse(svg).getroot().tag == f"{SVG}svg"
    text = report.read_text()
    assert "![Quality against latency per task](cal.svg)" in text
    assert "| qa | org/good\\|model | 0.90 | 2.00 s | 0% |" in text  # `|` escaped
    assert "| `looper` | 0 | 0 | 0 | 16 | 0 | 0 | 0 |" in text  # failures by kind
    assert "| `org/good\\|model` | yes | no | - | - |" in text  # capabilities
    tables = [line for line in text.splitlines() if line.startswith("|")]
    assert all(line.endswith("|") for line in tables)
    assert sorted(p.name for p in report.parent.iterdir()) == ["cal.md", "cal.svg"]
    assert "![" not in markdown(small_profile(), None)


def test_summary_and_describe() -> None:
    text = summary(small_profile())
    lines = text.splitlines()
    assert lines[0] == "Best model per task"
    assert lines[2].split() == ["qa", "org/good|model", "0.90", "2.00", "s", "0%"]
    looper = next(line for line in lines if line.startswith("looper"))
    assert looper.endswith("loop 16")
    shown = describe(small_profile(), "measured (profiles/x.toml)")
    assert shown.splitlines()[:3] == [
        "profile: measured (profiles/x.toml)",
        "machine: Apple M4, 24 GB, macOS 15",
        f"made: 2026-03-01T10:00:00Z (measured, router 0.1.0, suite {'ab' * 6})",
    ]
    assert re.search(
        r"^  1\.\s+org/good\|model\s+quality 0\.90\s+latency 2\.00 s\s+failures 0%",
        shown,
        re.MULTILINE,
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _steps(progress: Progress) -> None:
    progress.plan(["gemma", "qwen"], ["qa", "translate"])
    progress.begin(2, "gemma", "qa", 4)
    for done in range(1, 5):
        progress.advance(done, done // 3)
    progress.end(4, 1)


def test_progress_one_line_per_step_when_not_a_terminal() -> None:
    out = io.StringIO()
    _steps(Progress(out))
    assert out.getvalue() == "[2/6] gemma  qa            ██████████ 4/4  1 failed\n"


def test_progress_redraws_on_a_terminal() -> None:
    out = _Terminal()
    _steps(Progress(out))
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 6  # begin, four advances, end
    assert frames[0].startswith("[2/6] gemma  qa            ░░░░░░░░░░ 0/4")
    assert "███░░░░░░░ 1/4" in frames[1] or "██░░░░░░░░ 1/4" in frames[1]
    assert frames[-1].endswith("4/4  1 failed\033[K\n")
