"""`python -m benchmarks.ranges` (`make bench-runs`): several consecutive `make bench` runs, as ranges.

One good run says little on a shared machine, so the README and docs/performance.md report the range
(min-max) over consecutive runs. With `--runs N` this runs the benchmark N times in a row, each writing
`benchmarks/results/run-<n>.json`; given files instead, it only summarises them. It prints a Markdown table
to paste into the docs, and whether the steady-state target (p50 within 5 ms of the Graph floor measured in
the same run) held in every run, for one worker process and for several.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from .report import RESULTS_DIR

ROWS: list[tuple[str, str, Callable[[dict[str, Any]], float | None]]] = [
    ("p50 latency (ms)", "baseline", lambda d: d["baseline"]["p50_ms"]),
    ("p50 latency (ms)", "ours", lambda d: d["ours"]["p50_ms"]),
    ("p95 latency (ms)", "baseline", lambda d: d["baseline"]["p95_ms"]),
    ("p95 latency (ms)", "ours", lambda d: d["ours"]["p95_ms"]),
    ("p99 latency (ms)", "baseline", lambda d: d["baseline"]["p99_ms"]),
    ("p99 latency (ms)", "ours", lambda d: d["ours"]["p99_ms"]),
    ("requests/s", "baseline", lambda d: d["baseline"]["rps"]),
    ("requests/s", "ours", lambda d: d["ours"]["rps"]),
    ("token endpoint requests", "baseline", lambda d: d["baseline"]["token_requests"]),
    ("token endpoint requests", "ours", lambda d: d["ours"]["token_requests"]),
    ("Graph floor p50 (ms)", "both", lambda d: d["graph_floor"]["p50_ms"]),
    ("ours p50 over the floor (ms)", "ours", lambda d: d["ours"]["p50_ms"] - d["graph_floor"]["p50_ms"]),
    ("function CPU per request, p50 (ms)", "baseline", lambda d: d["baseline"].get("function_cpu_ms", {}).get("p50")),
    ("function CPU per request, p50 (ms)", "ours", lambda d: d["ours"].get("function_cpu_ms", {}).get("p50")),
    ("local host CPU per request (ms)", "baseline", lambda d: d["baseline"].get("host_cpu_ms")),
    ("local host CPU per request (ms)", "ours", lambda d: d["ours"].get("host_cpu_ms")),
    ("N worker processes: p50 (ms)", "ours", lambda d: (d.get("ours_multiprocess") or {}).get("p50_ms")),
    ("N worker processes: p50 over the floor (ms)", "ours",
     lambda d: (d.get("ours_multiprocess") or {}).get("over_floor_ms")),
    ("load average (1 min) before", "both", lambda d: (d.get("machine") or {}).get("load_average", [None])[0]),
]


def _range(values: Sequence[float | None], signed: bool = False, digits: int = 1) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "n/a"

    def fmt(value: float) -> str:
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:+.{digits}f}" if signed else f"{value:,.{digits}f}"

    low, high = min(known), max(known)
    return fmt(low) if low == high else f"{fmt(low)} to {fmt(high)}"


def summarise(documents: list[dict[str, Any]]) -> str:
    lines = [f"Over {len(documents)} consecutive runs (min to max):", "",
             "| | tutorial's approach | this app |", "|---|---:|---:|"]
    by_name: dict[str, dict[str, str]] = {}
    for name, column, value in ROWS:
        by_name.setdefault(name, {})[column] = _range([value(d) for d in documents], signed="over" in name,
                                                    digits=2 if "CPU" in name else 1)
    for name, cells in by_name.items():
        both = cells.get("both")
        lines.append(f"| {name} | {both or cells.get('baseline', '')} | {both or cells.get('ours', '')} |")
    one = [d["ours"]["p50_ms"] - d["graph_floor"]["p50_ms"] <= 5 for d in documents]
    many = [(d.get("ours_multiprocess") or {}).get("over_floor_ms", float("inf")) <= 5 for d in documents]
    processes = {(d.get("ours_multiprocess") or {}).get("worker_processes") for d in documents} - {None}
    lines += ["", f"p50 within 5 ms of the floor: one worker process in {sum(one)} of {len(one)} runs; "
                  f"{'/'.join(map(str, sorted(processes))) or 'N'} worker processes in {sum(many)} of {len(many)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ranges", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="results files to summarise (no new runs)")
    parser.add_argument("--runs", type=int, default=0, help="run the benchmark this many times first")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    files = list(args.files)
    for n in range(1, args.runs + 1):
        path = RESULTS_DIR / f"run-{n}.json"
        print(f"run {n} of {args.runs} ...", file=sys.stderr)
        if subprocess.run([sys.executable, "-m", "benchmarks", "--output", str(path)]).returncode != 0:
            print(f"run {n} failed (its results are not summarised)", file=sys.stderr)
            continue
        files.append(path)
    if not files:
        parser.error("name results files, or --runs N")
    print(summarise([json.loads(path.read_text(encoding="utf-8")) for path in files]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
