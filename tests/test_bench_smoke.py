"""SMOKE TEST ONLY: bench/bench.py runs end to end on 8 projects and prints every stage.

It checks that the benchmark works, nothing about speed: its numbers on 8 files mean nothing and no
timing is asserted. Speed is measured by `make bench` (docs/performance.md), never by timed tests.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("generate", "floor-write", "fill", "floor-calamine", "floor-openpyxl", "check", "annotate",
          "consolidate")

pytestmark = pytest.mark.smoke


def test_bench_runs_every_stage(tmp_path):
    work = tmp_path / "bench"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--n", "8", "--no-profile",
                        "--work", str(work)], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    lines = p.stdout.splitlines()
    for stage in STAGES:
        assert any(line.split()[:1] == [stage] for line in lines), f"no line for {stage}:\n{p.stdout}"
    assert "targets" in p.stdout and "ratios" in p.stdout
    res = json.loads((work / "results.json").read_text())
    for stage in ("generate", "check", "annotate", "consolidate"):
        for jobs in (1, 2):
            r = res["stages"][f"{stage}:j{jobs}"]
            assert r["files"] == 8 and r["peak_mb"] > 0
    assert res["stages"]["check:j1"]["median_ms"] > 0
    assert {t["result"] for t in res["targets"]} <= {"PASS", "MISS", "NOT RUN"}
    # the paired cross-check runs on the same folder
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "paired.py"), "--work", str(work), "--files", "4",
                        "--reps", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "generate" in p.stdout and "check" in p.stdout and "annotate" in p.stdout
