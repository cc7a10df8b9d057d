"""Ranges over consecutive runs, from synthetic results documents (arithmetic, never timings)."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.ranges import main, summarise


def run(p50: float, floor: float, multi_over: float, load: float) -> dict:
    app = {"p50_ms": p50, "p95_ms": p50 + 20, "p99_ms": p50 + 500, "rps": 300.0, "token_requests": 20,
           "function_cpu_ms": {"p50": 0.61, "p95": 1.0, "mean": 0.7}, "host_cpu_ms": 0.9}
    return {"baseline": {**app, "p50_ms": 450.0, "token_requests": 2000}, "ours": app,
            "graph_floor": {"p50_ms": floor, "p95_ms": floor + 5},
            "ours_multiprocess": {"worker_processes": 2, "p50_ms": floor + multi_over, "over_floor_ms": multi_over},
            "machine": {"load_average": [load, 1.0, 1.0]}}


def test_the_table_shows_each_figure_as_a_range_and_counts_the_runs_on_target() -> None:
    text = summarise([run(70.0, 66.0, 2.0, 0.3), run(75.0, 65.0, 6.0, 1.5), run(68.0, 66.5, 1.0, 0.2)])
    assert "Over 3 consecutive runs" in text
    assert "| p50 latency (ms) | 450.0 | 68.0 to 75.0 |" in text
    assert "| ours p50 over the floor (ms) |  | +1.5 to +10.0 |" in text
    assert "| token endpoint requests | 2,000 | 20 |" in text
    assert "| function CPU per request, p50 (ms) | 0.61 | 0.61 |" in text
    assert "| load average (1 min) before | 0.2 to 1.5 | 0.2 to 1.5 |" in text
    assert "one worker process in 2 of 3 runs; 2 worker processes in 2 of 3" in text


def test_existing_files_are_summarised_without_running_anything(tmp_path: Path, capsys) -> None:
    paths = []
    for n, doc in enumerate([run(70.0, 66.0, 2.0, 0.3), run(71.0, 66.0, 3.0, 0.4)]):
        paths.append(tmp_path / f"run-{n}.json")
        paths[-1].write_text(json.dumps(doc))
    assert main([str(p) for p in paths]) == 0
    assert "Over 2 consecutive runs" in capsys.readouterr().out
