"""A/B of two versions of xlform on one benchmark stage, alternating, on the same files.

This machine's speed drifts 30-45 % within minutes, more than most code changes move a stage, so two
versions are only compared run against run, close in time: each iteration runs the stage with every
job count under both versions, in the order A B B A, then B A A B, and so on. It prints every
run's wall time, each iteration's jobs-2 speedup per version and B's time over A's.

    python bench/ab.py --base c02c87f                          # generate, jobs 1 and 2, 8 iterations
    python bench/ab.py --base HEAD~1 --stage check --iterations 6

A is `--base` (checked out into a temporary git worktree), B the working tree this file is in. The
stage's files must exist (`make bench` made them: build/bench/n1000). Each run is a fresh process of
this tree's bench.py with the version's xlform first on sys.path (XLFORM_BENCH_TREE), both trees
byte-compiled first: the same measurement of both, even across a change to the benchmark itself
(a base whose xlform no longer fits this bench.py's stage fails with its traceback).
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG = "BENCH_RESULT "   # bench.py's RESULT_TAG


def run(tree: Path, stage: str, work: Path, jobs: int, n: int) -> dict:
    env = dict(os.environ, XLFORM_BENCH_TREE=str(tree))
    cmd = [sys.executable, str(ROOT / "bench" / "bench.py"), "--stage", stage, "--work", str(work),
           "--jobs", str(jobs), "--n", str(n)]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith(TAG))
    return json.loads(line[len(TAG):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the git revision to compare against (A)")
    ap.add_argument("--stage", default="generate", help="generate, check, annotate or consolidate")
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--work", default=str(ROOT / "build" / "bench" / "n1000"))
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    work = Path(args.work).resolve()
    with tempfile.TemporaryDirectory(prefix="xlform-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            for tree in (base, ROOT):      # as an install does: no stage process compiles xlform again
                compileall.compile_dir(str(tree / "xlform"), quiet=1)
            walls = _alternate({"A": base, "B": ROOT}, args.stage, work, jobs, args.n, args.iterations)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
            # what the stages set aside instead of deleting (bench.py's _clean), once no stage is timed
            for trash in [work / ".trash", *work.glob("*/.trash")]:
                shutil.rmtree(trash, ignore_errors=True)
    print()
    for j in jobs:
        ratio = [b / a for a, b in zip(walls[("A", j)], walls[("B", j)])]
        print(f"jobs {j}: B / A per iteration {', '.join(f'{r:.2f}' for r in ratio)}; median {statistics.median(ratio):.3f}")
    if 1 in jobs and 2 in jobs:
        for v in ("A", "B"):
            sp = [a / b for a, b in zip(walls[(v, 1)], walls[(v, 2)])]
            print(f"{v}: jobs-2 speedup per iteration {', '.join(f'{s:.2f}' for s in sp)}; median {statistics.median(sp):.2f}")


def _alternate(trees: dict[str, Path], stage: str, work: Path, jobs: list[int], n: int,
               iterations: int) -> dict[tuple[str, int], list[float]]:
    walls: dict[tuple[str, int], list[float]] = {}
    for i in range(iterations):
        first, second = ("A", "B") if i % 2 == 0 else ("B", "A")
        for v, j in [(first, j) for j in jobs] + [(second, j) for j in reversed(jobs)]:
            r = run(trees[v], stage, work, j, n)
            walls.setdefault((v, j), []).append(r["wall_s"])
            print(f"iteration {i + 1}  {v}  jobs {j}  wall {r['wall_s']:.2f} s  CPU {r.get('cpu_s', 0):.1f} s",
                  flush=True)
    return walls


if __name__ == "__main__":
    main()
