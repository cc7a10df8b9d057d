"""The concurrency sweep's document, its choice of concurrency, its table and its plot, from synthetic levels
(shape and arithmetic, never timings of this machine)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from PIL import Image

from benchmarks.host_metrics import FunctionCost
from benchmarks.loadgen import LoadResult
from benchmarks.plot import plot_sweep
from benchmarks.report import Measured
from benchmarks.sweep import LEVELS, SweepPoint, choose, format_sweep, output_paths, requests_for, sweep_document

MACHINE = {"cpu_count": 2, "load_average": [0.2, 0.3, 0.4], "load_average_after": [0.9, 0.5, 0.4]}


def point(concurrency: int, p50: float, floor_p50: float, failures: int = 0) -> SweepPoint:
    count = 100
    floor = LoadResult([floor_p50] * count, Counter({200: count}), 1.0)
    ours = LoadResult([p50] * count, Counter({200: count - failures, 502: failures}), 2.0)
    cost = FunctionCost(count, [0.6] * count, [p50 - 1] * count)
    return SweepPoint(concurrency, floor, Measured(ours, {"token": 0, "graph": count}, {"hosts": 1.5}, cost))


def document(over: dict[int, float], failures: dict[int, int] | None = None) -> dict:
    points = [point(c, 85.0 + over.get(c, 1.0), 85.0, (failures or {}).get(c, 0)) for c in LEVELS]
    return sweep_document(points, {"users": 20, "graph_latency_ms": 60}, MACHINE)


def test_the_document_names_every_level_with_its_floor_and_costs() -> None:
    doc = json.loads(json.dumps(document({})))
    assert set(doc) == {"config", "levels", "chosen_concurrency", "machine"}
    assert doc["config"]["worker_processes"] == 1 and doc["config"]["within_ms"] == 5.0
    assert [level["concurrency"] for level in doc["levels"]] == [1, 4, 8, 16, 32, 64]
    for level in doc["levels"]:
        assert {"requests", "p50_ms", "p95_ms", "rps", "floor_p50_ms", "floor_p95_ms", "floor_rps", "over_floor_ms",
                "within_target", "non_200", "function_cpu_ms", "host_cpu_ms"} <= set(level)
        assert level["over_floor_ms"] == 1.0 and level["within_target"] is True
        assert level["rps"] == 50.0 and level["function_cpu_ms"]["p50"] == 0.6 and level["host_cpu_ms"] == 0.9


def test_the_chosen_concurrency_is_the_largest_level_within_5_ms_of_its_floor() -> None:
    assert document({})["chosen_concurrency"] == 64
    assert document({32: 5.0, 64: 12.0})["chosen_concurrency"] == 32
    assert document({8: 7.0, 32: 6.0, 64: 12.0})["chosen_concurrency"] == 16  # a blip below is only marked
    assert document({c: 6.0 for c in LEVELS})["chosen_concurrency"] is None
    assert document({}, failures={64: 1})["chosen_concurrency"] == 32  # an error answer disqualifies a level
    assert choose([]) is None


def test_the_table_shows_each_level_and_the_choice() -> None:
    text = format_sweep(document({64: 9.0}))
    assert "largest concurrency with p50 within 5 ms of the floor" in text and text.count("(over target)") == 1
    assert ": 32" in text and "load average before [0.2, 0.3, 0.4]" in text


def test_levels_get_enough_requests_and_files_go_beside_latest_json(tmp_path: Path) -> None:
    assert [requests_for(c, None) for c in LEVELS] == [300, 300, 300, 480, 960, 1920]
    assert requests_for(64, 400) == 400
    json_path, png_path = output_paths(None)
    assert json_path.name == "sweep.json" and png_path.name == "sweep.png"
    assert json_path.parent == png_path.parent and json_path.parent.name == "results"
    assert output_paths(tmp_path / "x.json") == (tmp_path / "x.json", tmp_path / "x.png")


def test_the_plot_is_a_png_drawn_from_the_document_alone(tmp_path: Path) -> None:
    path = plot_sweep(document({64: 9.0}), tmp_path / "sweep.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 400 and image.height > 400
