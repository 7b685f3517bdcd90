"""benchmarks/serving_report.py: the serving benchmark's pure parts (VmHWM read, targets
judged, the tables), on figures written by hand."""

from __future__ import annotations

import pytest

from benchmarks.serving_report import MB, progress, status_bytes, table, targets, targets_table

STATUS = "Name:\tpython\nVmPeak:\t 2000000 kB\nVmHWM:\t  310000 kB\nVmRSS:\t  290000 kB\n"


def server(decode: float, one: float, four: float, turn5: float, **memory: int) -> dict:
    return {
        "decode": {"tok_s": decode},
        "concurrency": [
            {"streams": 1, "tokens": 32, "wall_s": 1.0, "tok_s": one},
            {"streams": 4, "tokens": 128, "wall_s": 1.0, "tok_s": four},
        ],
        "turns": [{"turn": 5, "ttft_s": turn5, "prompt_tokens": 533, "cached_tokens": 514}],
        "memory": memory,
    }


def router(decode: float, one: float, four: float, turn5: float, peak_mb: int) -> dict:
    memory = {"peak_bytes": peak_mb * MB, "start_bytes": 100 * MB}
    memory |= {"reserved_bytes": 300 * MB, "budget_bytes": 1000 * MB}
    return server(decode, one, four, turn5, **memory)


MLX = server(6.0, 3.0, 4.0, 2.6, peak_bytes=300 * MB, start_bytes=90 * MB)


def test_status_bytes_reads_kilobytes_and_misses():
    assert status_bytes(STATUS, "VmHWM") == 310000 * 1024
    assert status_bytes(STATUS, "VmRSS") == 290000 * 1024
    assert status_bytes(STATUS, "VmSwap") is None


@pytest.mark.parametrize(
    ("mine", "met"),
    [
        # decode, 4 vs mlx, 4 vs own 1, turn 5, memory
        (router(6.0, 3.0, 4.8, 2.6, 400), [True, True, True, True, True]),
        (router(5.6, 3.0, 4.7, 2.7, 401), [False, False, True, False, False]),
        (router(7.0, 4.0, 5.0, 1.0, 350), [True, True, False, True, True]),
    ],
)
def test_targets_met_or_not(mine: dict, met: list[bool]):
    assert [t["met"] for t in targets({"router": mine, "mlx_lm.server": MLX})] == met


def test_targets_not_measured_without_the_part_or_the_other_server():
    mine = router(6.0, 3.0, 4.8, 2.6, 400)
    del mine["turns"]
    assert [t["met"] for t in targets({"router": mine, "mlx_lm.server": MLX})][3] is None
    alone = targets({"router": mine})
    assert [t["met"] for t in alone] == [None, None, True, None, True]


def test_memory_over_the_budget_is_not_met():
    mine = router(6.0, 3.0, 4.8, 2.6, 400)
    mine["memory"]["budget_bytes"] = 200 * MB  # less than the 300 MB reserved
    assert targets({"router": mine, "mlx_lm.server": MLX})[4]["met"] is False


def test_table_columns_mlx_first_with_ratios():
    text = table({"router": router(6.6, 3.0, 4.8, 2.6, 400), "mlx_lm.server": MLX})
    lines = text.splitlines()
    assert lines[0] == "| measure | mlx_lm.server | router | router / mlx_lm.server |"
    assert "| single-stream decode, tok/s | 6.00 | 6.60 | 1.10 |" in lines
    assert "| 4 streams at once, aggregate tok/s | 4.00 | 4.80 | 1.20 |" in lines
    assert "| 1 stream at once, aggregate tok/s | 3.00 | 3.00 | 1.00 |" in lines
    assert any(
        line.startswith("| time to first token, turn 5, s | 2.60 (514/533") for line in lines
    )
    assert "| peak memory (VmHWM) | 300 MB | 400 MB |  |" in lines
    assert "| the router's memory budget | — | 1000 MB |  |" in lines


def test_table_of_one_part_and_the_targets_verdicts():
    text = table({"router": {"decode": {"tok_s": 5.0}}})
    assert text.splitlines()[2] == "| single-stream decode, tok/s | 5.00 | — |"
    rows = targets_table(targets({"router": router(6.0, 3.0, 4.8, 2.6, 400), "mlx_lm.server": MLX}))
    assert rows.count("| met |") == 5
    assert "not measured" in targets_table(targets({}))


def test_table_shows_the_machine_load_each_server_ran_under():
    mine = router(6.0, 3.0, 4.8, 2.6, 400) | {"load_average": [1.04, 3.5]}
    text = table({"router": mine, "mlx_lm.server": MLX})
    assert (
        text.splitlines()[-1] == "| load average of the machine, start → end | — | 1.0 → 3.5 |  |"
    )


def test_progress_names_each_kind_of_run():
    assert (
        progress({"streams": 4, "tokens": 128, "tok_s": 4.71})
        == "4 streams, 128 tokens, 4.71 tok/s"
    )
    assert progress({"turn": 2, "ttft_s": 2.468}) == "turn 2, 2.47 s to the first token"
    assert progress({"tokens": 48, "tok_s": 6.1}) == "decode, 48 tokens, 6.10 tok/s"
