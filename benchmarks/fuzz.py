"""`python -m benchmarks.fuzz` (`make fuzz`): the security fuzzing at full size.

1. The hypothesis properties of tests/security/test_fuzz.py (token extractor, validator, strict JSON in signed
   tokens, HTTP layer through the local host against the emulators), scaled so they see 10,000+ inputs in all.
2. schemathesis: the OpenAPI description (function_app/openapi.json, as served at GET /api/openapi.json)
   against the local host, with the user's valid token supplied by a header hook on half of the requests.

Prints what ran and the input counts; exits non-zero if any property or conformance check failed.

    python -m benchmarks.fuzz [--scale 30] [--schemathesis-examples 300] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUZZ_MODULE = "tests/security/test_fuzz.py"
MIN_INPUTS = 10_000


def run_properties(scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as work:
        report_path = Path(work) / "counts.json"
        env = dict(os.environ, SECURITY_FUZZ_SCALE=str(scale), SECURITY_FUZZ_REPORT=str(report_path))
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        started = time.monotonic()
        completed = subprocess.run([sys.executable, "-m", "pytest", FUZZ_MODULE, "-q", "-p", "no:cacheprovider",
                                    "-o", "timeout=0"], cwd=ROOT, env=env)
        elapsed = time.monotonic() - started
        counts = json.loads(report_path.read_text()) if report_path.exists() else {}
    return {"passed": completed.returncode == 0, "seconds": round(elapsed, 1), **counts}


def run_schemathesis(max_examples: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from tests.security.schemathesis_check import run

    started = time.monotonic()
    report = run(max_examples=max_examples)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30.0,
                        help="multiplier on the make-test sample sizes (30: about 4,500 extractor, 9,000 validator, "
                             "3,000 strict JSON and 1,800 HTTP inputs)")
    parser.add_argument("--schemathesis-examples", type=int, default=300, help="examples per API operation")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)

    properties = run_properties(args.scale)
    inputs = properties.get("inputs", {})
    total = sum(inputs.values())
    print(f"\nhypothesis properties: {'passed' if properties['passed'] else 'FAILED'} in {properties['seconds']} s")
    for name, count in inputs.items():
        print(f"  {name:<10} {count:>7} inputs   {json.dumps(properties['outcomes'].get(name, {}))}")
    print(f"  {'total':<10} {total:>7} inputs")

    conformance = run_schemathesis(args.schemathesis_examples)
    served = conformance.get("served", {})
    print(f"\nschemathesis: {'passed' if conformance['ok'] else 'FAILED'} in {conformance['seconds']} s, "
          f"{conformance['cases']} requests; GET /api/openapi.json -> {served.get('status')}"
          f"{', same as function_app/openapi.json' if served.get('matches_file') else ', NOT the file in the repo'}")
    for label, operation in conformance["operations"].items():
        print(f"  {label:<32} {operation['cases']:>5} requests ({operation['authenticated']} with a valid token) "
              f"statuses {json.dumps(operation['statuses'])}")
        if operation["failure"]:
            print("    " + operation["failure"].replace("\n", "\n    "))

    report = {"properties": properties, "schemathesis": conformance, "total_inputs": total + conformance["cases"]}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    ok = properties["passed"] and conformance["ok"] and total >= MIN_INPUTS
    if total < MIN_INPUTS:
        print(f"\nonly {total} property inputs ran (want {MIN_INPUTS}+): raise --scale")
    print(f"\nfuzz: {'OK' if ok else 'FAILED'} ({report['total_inputs']} inputs in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
