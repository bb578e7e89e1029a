"""SMOKE TEST ONLY: bench/bench.py runs end to end on 8 projects and prints every stage.

It checks that the benchmark works, nothing about speed: its numbers on 8 files mean nothing and no
timing is asserted. Speed is measured by `make bench` (docs/performance.md), never by timed tests.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.libreoffice import requires_libreoffice

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("generate", "floor-write", "fill", "floor-calamine", "floor-openpyxl", "check", "annotate",
          "consolidate")

pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("bench") / "bench"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--n", "8", "--no-profile",
                        "--rounds", "2", "--work", str(work)], capture_output=True, text=True, cwd=ROOT, timeout=180)
    return work, p


def test_bench_runs_every_stage(bench_run):
    work, p = bench_run
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
    # two rounds, the second in reverse order; every ratio is judged on the median of the rounds' ratios
    assert len(res["rounds"]) == 2
    assert [k for k in res["rounds"][1] if k != "ceiling:j1"] == \
        [k for k in res["rounds"][0] if k != "ceiling:j1"][::-1]
    for t in res["targets"]:
        if "jobs 2" in t["target"] or "per-file median" in t["target"]:
            assert len(t["rounds"]) == 2 and t["value"] is not None
    # the paired cross-check runs on the same folder
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "paired.py"), "--work", str(work), "--files", "4",
                        "--reps", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "generate" in p.stdout and "check" in p.stdout and "annotate" in p.stdout
    # the A/B of two versions (here HEAD against the working tree), its worktree removed after
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "ab.py"), "--base", "HEAD", "--iterations", "1",
                        "--n", "8", "--work", str(work)], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "jobs 2: B / A per iteration" in p.stdout and "B: jobs-2 speedup per iteration" in p.stdout
    assert "xlform-ab-" not in subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True,
                                              text=True).stdout
    # the loops bench/sample.py runs under py-spy (py-spy itself is not a dependency)
    for stage in ("generate", "check", "annotate", "write", "consolidate"):
        p = subprocess.run([sys.executable, str(ROOT / "bench" / "sample.py"), "--child", "--work", str(work),
                            "--stage", stage, "--files", "3", "--seconds", "0"], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert p.returncode == 0, stage + p.stdout[-3000:] + p.stderr[-3000:]


@pytest.mark.libreoffice
@requires_libreoffice
def test_check_on_files_saved_by_calc(bench_run):
    """make bench-calc: the returned files re-saved by LibreOffice Calc, checked beside the originals;
    returned/ is left as it was (soffice works on copies)."""
    work, p = bench_run
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    before = sorted(f.name for f in (work / "returned").iterdir())
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "paired.py"), "--work", str(work), "--files", "3",
                        "--reps", "1", "--calc"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "as the bench writes them" in p.stdout and "saved by LibreOffice Calc" in p.stdout
    saved = sorted((work / "calc-saved").glob("*.xlsx"))
    assert [f.name for f in saved] == before[:3]
    assert b"LibreOffice" in zipfile.ZipFile(saved[0]).read("docProps/app.xml")   # really written by Calc
    assert sorted(f.name for f in (work / "returned").iterdir()) == before


def test_sampled_profile_is_counted_inside_the_stage(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    import sample
    raw = tmp_path / "x.raw"
    raw.write_text("<module> (a.py:1);render_project (/r/xlform/generate.py:5);_write (/r/xlform/workbook.py:9) 30\n"
                   "<module> (a.py:1);render_project (/r/xlform/generate.py:5) 10\n"
                   "<module> (a.py:1);import (b.py:2) 60\n", encoding="utf-8")
    total, inclusive, own = sample.aggregate(raw, "render_project", 10)
    assert total == 40                                   # the import's 60 samples are outside the stage
    assert inclusive[0] == (1.0, "render_project  xlform/generate.py")
    assert dict((k, v) for v, k in own) == {"_write  xlform/workbook.py": 0.75,
                                             "render_project  xlform/generate.py": 0.25}
