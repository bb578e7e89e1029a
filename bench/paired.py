#!/usr/bin/env python3
"""The floor ratios measured file by file, side by side, in one process: a cross-check of bench.py.

bench.py runs each stage in its own process, minutes apart, and divides their medians; on a machine
whose speed drifts (docs/performance.md, "Repeatability") a floor and the stage it is compared with
can be measured at different speeds. Here each file is written or read by the floor and by xlform
one right after the other, `--reps` times, and the CPU times compared:

    python bench/paired.py --work build/bench/n1000        (after `make bench` made that folder)

- generate: bench.py's bare XlsxWriter floor vs `generate.render_project` (layout + workbook), and
  the annotated write (`annotate.annotate`, with the arguments `check_file` passes it) vs the floor;
- check: bare python-calamine read vs `validate._run_one` (what `validate --jobs 1` does per file),
  the value-parser cache emptied before each repetition as a fresh process would have it.

Per file the fastest repetition (write) or the median (check) is taken, then the median over files.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _cpu(fn, *args, **kw) -> float:
    t = time.process_time()
    fn(*args, **kw)
    return time.process_time() - t


def annotate_calls(files: list[Path], manifest, forms, out: Path) -> list[tuple[tuple, dict]]:
    """What check_file hands annotate for each file, recorded instead of written: to time the
    annotated write alone (also bench/sample.py)."""
    import xlform.annotate as ann
    from xlform.validate import check_file

    calls: list[tuple[tuple, dict]] = []
    real = ann.annotate
    ann.annotate = lambda *a, **kw: calls.append((a, kw))
    try:
        for f in files:
            check_file(f, manifest, forms, out / "x.xlsx")
    finally:
        ann.annotate = real
    return calls


def paired_write(work: Path, k: int, reps: int) -> dict:
    import bench
    import xlform.annotate as ann
    from xlform.manifest import Manifest
    from xlform.spec import available_forms

    manifest = Manifest.load(work / "issued" / "manifest.json")
    entries, forms = manifest.entries[:k], available_forms()
    floor = {Path(j[0]).name: j for j in bench._precompute_floor(work / "issued" / "manifest.json")}
    out = Path(tempfile.mkdtemp(prefix="xlform-paired-", dir=work))
    returned = [work / "returned" / Path(e.file).name for e in entries]
    calls = {Path(kw["source"]).name: (a, kw) for a, kw in annotate_calls(returned, manifest, forms, out)}
    times: dict[str, list[list[float]]] = {"floor": [], "generate": [], "annotate": []}
    try:
        _time_writes(entries, reps, floor, calls, out, forms, ann.annotate, times)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    med = {key: statistics.median(min(v) for v in per_file) * 1000 for key, per_file in times.items()}
    return {"files": len(entries), "reps": reps, "floor_ms": med["floor"], "generate_ms": med["generate"],
            "annotate_write_ms": med["annotate"], "generate_ratio": med["generate"] / med["floor"]}


def _time_writes(entries, reps, floor, calls, out, forms, annotate, times) -> None:
    import bench
    from xlform.generate import render_project
    from xlform.projects import Project

    for rep in range(reps):
        for i, e in enumerate(entries):
            name = Path(e.file).name
            a, kw = calls[name]
            got = (_cpu(bench._bare_write, out / f"f{rep}-{name}", *floor[name][1:]),
                   _cpu(render_project, forms[e.form_id], Project.from_dict(e.project), out / f"g{rep}-{name}", e.year),
                   _cpu(annotate, a[0], out / f"a{rep}-{name}", *a[2:], **kw))
            for key, t in zip(times, got):
                if rep == 0:
                    times[key].append([])
                times[key][i].append(t)


def paired_check(work: Path, k: int, reps: int, calc: bool = False) -> dict:
    """check ÷ bare calamine on the first k returned files; with `calc`, on the same files as
    LibreOffice Calc saves them too (see calc_saved), each file's two versions timed back to back."""
    import bench
    from xlform import score, validate

    files = sorted((work / "returned").glob("*.xlsx"))[:k]
    versions = {"bench": files, "calc": calc_saved(work, files)} if calc else {"bench": files}
    validate._init_worker(str(work / "issued" / "manifest.json"), None)
    if calc:
        _same_findings(files, versions["calc"], validate._run_one)
    floor = {v: [[] for _ in files] for v in versions}
    check = {v: [[] for _ in files] for v in versions}
    for rep in range(reps):
        score.parse_value.cache_clear()
        for i in range(len(files)):
            # the two versions hold the same values: the one checked second would find them in the
            # value parser's cache, so each is checked with it empty, first on every other turn
            order = list(versions.items()) if (i + rep) % 2 == 0 else list(versions.items())[::-1]
            for v, paths in order:
                if calc:
                    score.parse_value.cache_clear()
                floor[v][i].append(_cpu(bench.calamine_read, paths[i]))
                check[v][i].append(_cpu(validate._run_one, (str(paths[i]), None)))
    out = {}
    for v in versions:
        mf = statistics.median(statistics.median(t) for t in floor[v]) * 1000
        mc = statistics.median(statistics.median(t) for t in check[v]) * 1000
        out[v] = {"files": len(files), "reps": reps, "calamine_ms": mf, "check_ms": mc, "check_ratio": mc / mf}
    return out if calc else out["bench"]


def _same_findings(files: list[Path], saved: list[Path], run_one) -> None:
    """A Calc-saved file must be checked as its original is (the same finding codes), or its time says
    nothing: one refused as unreadable would simply look fast."""
    for f, g in zip(files, saved):
        a, b = (sorted(x.code for x in run_one((str(p), None)).findings) for p in (f, g))
        if a != b:
            raise SystemExit(f"{g.name}: Calc's copy gives {b}, the original {a}")


def calc_saved(work: Path, files: list[Path]) -> list[Path]:
    """The files as LibreOffice Calc saves them (opened and saved as .xlsx, as a department using
    Calc sends them back): Calc spells the XML its own way (every row's attributes, a title of two
    fonts as runs), and check should be as fast on that as on the bench's own writer's files.
    Made into <work>/calc-saved/ (about 0.2 s a file) when missing or older than the original, by
    the soffice of XLFORM_SOFFICE or PATH, with a Calc profile of its own."""
    out = work / "calc-saved"
    todo = [f for f in files if not (out / f.name).exists() or (out / f.name).stat().st_mtime < f.stat().st_mtime]
    if todo:
        soffice = os.environ.get("XLFORM_SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")
        if soffice is None:
            raise SystemExit("bench/paired.py --calc needs LibreOffice Calc (soffice) on PATH")
        out.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="xlform-calc-") as tmp:
            # copies: soffice may leave a lock file beside what it opens, and returned/ is read by the stages
            copies = Path(tmp) / "in"
            copies.mkdir()
            for f in todo:
                shutil.copyfile(f, copies / f.name)
                (out / f.name).unlink(missing_ok=True)
            _soffice([soffice, f"-env:UserInstallation={(Path(tmp) / 'profile').as_uri()}", "--headless",
                      "--norestore", "--nolockcheck", "--convert-to", "xlsx:Calc MS Excel 2007 XML",
                      "--outdir", str(out), *(str(copies / f.name) for f in todo)], timeout=120 + 5 * len(todo))
    missing = [f.name for f in files if not (out / f.name).exists()]
    if missing:
        raise SystemExit(f"LibreOffice did not save {len(missing)} of the files, e.g. {missing[0]}")
    return [out / f.name for f in files]


def _soffice(cmd: list[str], timeout: float) -> None:
    """soffice in a process group of its own: the soffice script starts soffice.bin, which a timeout
    must stop too, before its profile folder is removed."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if proc.returncode:
        raise SystemExit(f"soffice failed (exit {proc.returncode})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="a bench.py work folder (issued/, returned/)")
    ap.add_argument("--files", type=int, default=300, help="files per comparison (default 300)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--calc", action="store_true",
                    help="only check ÷ calamine, on the files as written and as LibreOffice Calc saves them")
    a = ap.parse_args()
    work = Path(a.work)
    if a.calc:
        both = paired_check(work, a.files, a.reps, calc=True)
        for v, label in (("bench", "as the bench writes them"), ("calc", "saved by LibreOffice Calc")):
            c = both[v]
            print(f"check, {label:24} ({c['files']} files × {c['reps']}): bare calamine {c['calamine_ms']:.2f} ms, "
                  f"check {c['check_ms']:.2f} ms ({c['check_ratio']:.2f}×)")
        return
    w = paired_write(work, a.files, a.reps)
    print(f"write  ({w['files']} files × {w['reps']}): bare XlsxWriter {w['floor_ms']:.2f} ms, generate "
          f"{w['generate_ms']:.2f} ms ({w['generate_ratio']:.2f}×), annotated write {w['annotate_write_ms']:.2f} ms")
    c = paired_check(work, a.files, a.reps)
    print(f"check  ({c['files']} files × {c['reps']}): bare calamine {c['calamine_ms']:.2f} ms, check "
          f"{c['check_ms']:.2f} ms ({c['check_ratio']:.2f}×)")
    print(f"annotate ÷ (calamine + bare XlsxWriter) ≈ {(c['check_ms'] + w['annotate_write_ms']) / (c['calamine_ms'] + w['floor_ms']):.2f}×")


if __name__ == "__main__":
    main()
