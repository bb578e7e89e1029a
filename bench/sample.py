#!/usr/bin/env python3
"""Where a stage's time goes, by sampling (py-spy) instead of cProfile: a cross-check of bench.py's profiles.

cProfile charges every Python call a fixed overhead, so code made of many small calls (XlsxWriter's
writers, our value parser) looks several times more expensive than it is, and C work (zlib, calamine)
looks cheaper. py-spy samples the running process's stack without changing its speed:

    pip install py-spy                                  # not a dependency of xlform
    python bench/sample.py --work build/bench/n1000 --stage annotate

The stage runs in a child process, jobs 1, on the first --files files of a bench.py work folder, as
often as needed for about --seconds of samples. The report gives, for the stage's own entry point,
each function's inclusive share (it or what it calls is running) and self share (it is running;
time in C code called from Python counts to the Python function that called it).
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the function each stage's per-file work runs under: shares are of the samples inside it
ENTRY = {"generate": "render_project", "check": "_run_one", "annotate": "_run_one", "write": "annotate",
         "consolidate": "consolidate"}


def child(work: Path, stage: str, files: int, seconds: float) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from xlform import annotate as ann
    from xlform import validate
    from xlform.generate import render_project
    from xlform.manifest import Manifest
    from xlform.projects import Project
    from xlform.spec import available_forms

    manifest_path = work / "issued" / "manifest.json"
    manifest, forms = Manifest.load(manifest_path), available_forms()
    entries = manifest.entries[:files]
    out = Path(tempfile.mkdtemp(prefix="xlform-sample-"))
    returned = [work / "returned" / Path(e.file).name for e in entries]
    try:
        if stage == "generate":
            jobs = [(forms[e.form_id], Project.from_dict(e.project), e.year) for e in entries]
            run = lambda: [render_project(s, p, out / "g.xlsx", y) for s, p, y in jobs]   # noqa: E731
        elif stage in ("check", "annotate"):
            validate._init_worker(str(manifest_path), None)
            target = str(out / "a.xlsx") if stage == "annotate" else None
            run = lambda: [validate._run_one((str(f), target)) for f in returned]        # noqa: E731
        elif stage == "write":      # the annotated write alone, with what check_file hands it
            from paired import annotate_calls
            calls = annotate_calls(returned, manifest, forms, out)
            run = lambda: [ann.annotate(a[0], out / "w.xlsx", *a[2:], **kw) for a, kw in calls]  # noqa: E731
        else:
            from xlform.consolidate import consolidate
            run = lambda: consolidate(returned, manifest_path, out / "c.xlsx", jobs=1)     # noqa: E731
        start = time.perf_counter()
        run()                                   # at least once
        while time.perf_counter() - start < seconds:
            run()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def aggregate(raw: Path, entry: str, top: int) -> tuple[int, list[tuple[float, str]], list[tuple[float, str]]]:
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        frames = [_name(f) for f in stack.split(";")]
        try:
            start = max(i for i, f in enumerate(frames) if f.split(" ")[0].split(".")[-1] == entry)
        except ValueError:
            continue                       # a sample outside the stage (imports, setup)
        frames = frames[start:]
        total += int(n)
        for f in set(frames):
            inclusive[f] += int(n)
        own[frames[-1]] += int(n)
    share = lambda c: [(v / total, k) for k, v in c.most_common(top)] if total else []   # noqa: E731
    return total, share(inclusive), share(own)


def _name(frame: str) -> str:
    # py-spy: "function (path/to/file.py:123)" -> "function  xlform/file.py"
    func, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    if "site-packages" in parts:
        path = "/".join(parts[len(parts) - parts[::-1].index("site-packages"):])
    elif "xlform" in parts:
        path = "/".join(parts[len(parts) - parts[::-1].index("xlform") - 1:])
    else:
        path = Path(path).name
    return f"{func}  {path}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="a bench.py work folder (issued/, returned/)")
    ap.add_argument("--stage", choices=sorted(ENTRY), required=True)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0, help="how long to sample (default 20)")
    ap.add_argument("--rate", type=int, default=250, help="samples per second (default 250)")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    work = Path(a.work)
    if a.child:
        return child(work, a.stage, a.files, a.seconds)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.path.exists(spy):
        sys.exit("py-spy is not installed: pip install py-spy")
    raw = Path(tempfile.mkdtemp(prefix="xlform-spy-")) / f"{a.stage}.raw"
    cmd = [spy, "record", "-r", str(a.rate), "-f", "raw", "-o", str(raw), "--", sys.executable, __file__,
           "--child", "--work", str(work), "--stage", a.stage, "--files", str(a.files), "--seconds", str(a.seconds)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not raw.exists():
        sys.exit(f"py-spy failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    total, inclusive, own = aggregate(raw, ENTRY[a.stage], a.top)
    lines = [f"# {a.stage}: py-spy, {a.rate} samples/s, {a.files} files, {total} samples inside {ENTRY[a.stage]}",
             "", "inclusive  function  file"]
    lines += [f"{s * 100:8.1f}%  {k}" for s, k in inclusive]
    lines += ["", "self       function  file"] + [f"{s * 100:8.1f}%  {k}" for s, k in own]
    text = "\n".join(lines) + "\n"
    (work / f"sampled-{a.stage}.txt").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
