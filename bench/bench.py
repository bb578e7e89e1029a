#!/usr/bin/env python3
"""xlform benchmark: generate → fill → validate → consolidate, each beside the floor it stands on.

    python bench/bench.py                         N = 1000 projects (make bench)
    python bench/bench.py --quick                 N = 100, a short profile: only checks that it runs (CI)
    python bench/bench.py --consolidate-scale 10000   also generate+fill 10,000 and consolidate them

Every stage runs in a fresh Python process (`--stage NAME`, internal) so that its peak memory is its
own: ru_maxrss of the process, plus RUSAGE_CHILDREN for its worker processes (the largest one, as
Linux reports it). Per-file medians are timed in-process with jobs=1, file by file; throughput for
jobs 1 and 2 is the wall time of the whole stage. The floors run on the same files in the same run:

- floor-write      bare XlsxWriter writing the same cells with the same formats and merges (the cells,
                   formats and row heights are computed before the clock starts): the floor of generate;
- floor-calamine   bare python-calamine reading every cell of every sheet of each returned file;
- floor-openpyxl   bare openpyxl.load_workbook of each returned file (what most tools do).

The returned files are written by a fast filler of the benchmark's own (not timed as a target): the
issued template written again with the department's values in it, like tools/fill.py.
Results: a table on stdout, and <work>/results.json (--json, --markdown to copy them elsewhere).
Speed is measured here, never by timed tests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
# the xlform measured: this tree's, or another's (bench/ab.py measures two versions with this bench.py)
sys.path.insert(0, os.environ.get("XLFORM_BENCH_TREE") or str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RESULT_TAG = "BENCH_RESULT "
TARGETS = {"generate": 1.5, "check": 3.0, "annotate": 1.5, "speedup": 1.7, "consolidate_mb": 300,
           "linear": 1.25}
PROFILED = ("generate", "check", "annotate", "consolidate")


# ================================================================ stage side (a fresh process each)

class PerFile:
    """A progress wrapper that times each item: works whether the work happens before an item is
    yielded (a lazy iterator of results) or after (a list of inputs consumed one by one)."""

    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []     # (wall, cpu) seconds per item

    def wrap(self, items, total=None):
        stamps = [(time.perf_counter(), time.process_time())]
        for x in items:
            stamps.append((time.perf_counter(), time.process_time()))
            yield x
        stamps.append((time.perf_counter(), time.process_time()))
        deltas = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]
        if len(deltas) > 1:   # n items, n+1 gaps: drop the empty one at the start or at the end
            deltas.pop(0 if deltas[0][0] <= deltas[-1][0] else -1)
        self.times = deltas


def _memory() -> dict:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, child = me.ru_maxrss / 1024, kids.ru_maxrss / 1024
    return {"rss_self_mb": round(own, 1), "rss_children_mb": round(child, 1), "peak_mb": round(own + child, 1),
            "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 3),
            "cpu_self_s": round(me.ru_utime + me.ru_stime, 3), "cpu_children_s": round(kids.ru_utime + kids.ru_stime, 3)}


def _files(work: Path) -> list[Path]:
    return sorted((work / "returned").glob("*.xlsx"))


TRASH = ".trash"     # in the work folder: what the stages replaced, deleted when the run ends


def _clean(path: Path) -> Path:
    """`path` as a new, empty folder; what was there is moved into the work folder's .trash, not deleted.

    On this machine's ext4 a file created in the minute after thousands were deleted nearby costs about
    0.6 ms instead of 0.03 (the inode allocator steps over every recently freed inode: perf showed the
    kernel's recently_deleted() at 4 % of a generate run). Deleting the last round's 1,000 files just
    before a stage wrote 1,000 made its time depend on what the bench had deleted, and on which block
    group the new folder landed in: generate with jobs 1 used 0.76-1.18 s of kernel time right after a
    deletion, 0.38-0.54 s without (three runs each), in the stage and in its floor alike."""
    if path.exists():
        trash = path.parent / TRASH
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{path.name}-{time.time_ns()}")
    path.mkdir(parents=True)
    return path


def _empty_trash(work: Path) -> None:
    """After the timed stages: the .trash of the work folder and of the scale run's folder in it."""
    for trash in [work / TRASH, *work.glob(f"*/{TRASH}")]:
        shutil.rmtree(trash, ignore_errors=True)


def _timed_each(items: list, fn: Callable[[Any], None]) -> list[tuple[float, float]]:
    times = []
    for x in items:
        t, c = time.perf_counter(), time.process_time()
        fn(x)
        times.append((time.perf_counter() - t, time.process_time() - c))
    return times


def stage_setup(work: Path, n: int, args) -> dict:
    import synth
    projects = synth.make_projects(n)
    cells = sum(len(p["indicators"]) + 1 for p in projects) * len(synth.HEAD)
    # read.py refuses a sheet of more than MAX cells (a safety limit meant for returned files; it applies
    # to the project list as well): a list that big is written as CSV, which generate reads without it
    limit = _sheet_cell_limit()
    suffix = ".csv" if limit and cells > limit else ".xlsx"
    synth.write_project_list(projects, work / f"projects{suffix}")
    if args.profile_files:
        synth.write_project_list(projects[:args.profile_files], work / "projects-profile.xlsx")
    forms = {}
    for p in projects:
        forms[p["form"]] = forms.get(p["form"], 0) + 1
    sizes = sorted(len(p["indicators"]) for p in projects)
    return {"files": n, "list": f"projects{suffix}", "list_cells": cells, "forms": forms, "indicators_min": sizes[0], "indicators_median": statistics.median(sizes),
            "indicators_max": sizes[-1], "indicator_rows": sum(sizes)}


def _sheet_cell_limit() -> int | None:
    import xlform.read as read
    for name in ("MAX_SHEET_CELLS", "MAX_CELLS"):
        if isinstance(getattr(read, name, None), int):
            return getattr(read, name)
    return None


def stage_generate(work: Path, jobs: int, args) -> dict:
    from xlform.generate import generate
    out = _clean(work / f"gen-j{jobs}")
    projects = next(work.glob("projects.*"))
    timer = PerFile()
    t = time.perf_counter()
    r = generate(projects, out, jobs=jobs, progress=timer.wrap if jobs == 1 else None)
    return {"files": len(r.files), "wall_s": time.perf_counter() - t, "per_file_s": timer.times}


def _precompute_floor(manifest_path: Path) -> list[tuple]:
    """The Layout's cells, formats and row heights for each file, computed before the clock starts."""
    from xlform.layout import build_layout, fit_heights
    from xlform.manifest import Manifest
    from xlform.projects import Project
    from xlform.spec import available_forms
    from xlform.workbook import _Formats

    class PropsOnly:   # stands in for the Workbook: keeps each format's properties
        def __init__(self) -> None:
            self.props: list[dict] = []

        def add_format(self, props: dict) -> int:
            self.props.append(dict(props))
            return len(self.props) - 1

    forms = available_forms()
    jobs = []
    for e in Manifest.load(manifest_path).entries:
        spec = forms[e.form_id]
        layout = build_layout(spec, Project.from_dict(e.project), e.year)
        wb = PropsOnly()
        fmts = _Formats(wb, layout)
        cells = []
        for c in layout.cells:
            f = layout.fields.get(c.field) if c.field else None
            cells.append((c.row, c.col, c.last_row, c.last_col, c.value,
                          fmts.get(c.style, c.input, f.type if f else None, None)))
        jobs.append((Path(e.file).name, spec.sheet, list(spec.columns), sorted(fit_heights(layout).items()),
                     wb.props, cells))
    return jobs


def _bare_write(path: Path, sheet: str, widths, heights, props, cells) -> None:
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    ws = wb.add_worksheet(sheet)
    fmts = [wb.add_format(p) for p in props]
    for i, w in enumerate(widths):
        ws.set_column(i, i, w)
    for r, h in heights:
        ws.set_row(r, h)
    for r, c, lr, lc, v, fi in cells:
        fmt = fmts[fi]
        if lr > r or lc > c:
            ws.merge_range(r, c, lr, lc, v, fmt)
        elif v is None or v == "":
            ws.write_blank(r, c, None, fmt)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            ws.write_number(r, c, v, fmt)
        else:
            ws.write_string(r, c, str(v), fmt)
    wb.close()


def stage_floor_write(work: Path, jobs: int, args) -> dict:
    todo = _precompute_floor(work / "issued" / "manifest.json")
    out = _clean(work / "floor-write")
    t = time.perf_counter()
    times = _timed_each(todo, lambda j: _bare_write(out / j[0], *j[1:]))
    return {"files": len(todo), "wall_s": time.perf_counter() - t, "per_file_s": times}


def stage_floor_read_write(work: Path, jobs: int, args) -> dict:
    """The floor of validate with annotated copies, per returned file: bare calamine reading every cell of
    it, then bare XlsxWriter writing the form's cells (the same file's, as floor-write has them)."""
    todo = {j[0]: j for j in _precompute_floor(work / "issued" / "manifest.json")}
    files = _files(work)
    out = _clean(work / "floor-read-write")

    def one(path: Path) -> None:
        calamine_read(path)
        j = todo[path.name]
        _bare_write(out / j[0], *j[1:])

    t = time.perf_counter()
    times = _timed_each(files, one)
    return {"files": len(files), "wall_s": time.perf_counter() - t, "per_file_s": times}


_FILL: dict = {}


def _fill_init() -> None:
    from xlform.spec import available_forms
    _FILL["forms"] = available_forms()


def _fill_one(args: tuple) -> str:
    """tools/fill.py's fill_workbook, with the form specs loaded once per process."""
    import synth
    from xlform.generate import workbook_meta
    from xlform.layout import build_layout
    from xlform.manifest import ManifestEntry
    from xlform.projects import Project
    from xlform.workbook import Extras, write_workbook
    entry_dict, out = args
    entry = ManifestEntry(**entry_dict)
    layout = build_layout(_FILL["forms"][entry.form_id], Project.from_dict(entry.project), entry.year)
    values = synth.returned_values(entry, layout)
    write_workbook(layout, Path(out), workbook_meta(layout, entry.project_code, entry.fingerprint),
                   extras=Extras(values=values))
    return out


def stage_fill(work: Path, jobs: int, args) -> dict:
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import asdict
    from xlform.manifest import Manifest
    out = _clean(work / "returned")
    entries = Manifest.load(work / "issued" / "manifest.json").entries
    todo = [(asdict(e), str(out / Path(e.file).name)) for e in entries]
    t = time.perf_counter()
    if jobs == 1:
        _fill_init()
        done = [_fill_one(a) for a in todo]
    else:
        with ProcessPoolExecutor(jobs, initializer=_fill_init) as ex:
            done = list(ex.map(_fill_one, todo, chunksize=8))
    return {"files": len(done), "wall_s": time.perf_counter() - t, "per_file_s": []}


def calamine_read(path: Path) -> None:
    """The floor of validate: bare python-calamine reading every cell of every sheet."""
    from python_calamine import CalamineWorkbook
    wb = CalamineWorkbook.from_path(str(path))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()


def stage_floor_calamine(work: Path, jobs: int, args) -> dict:
    files = _files(work)
    t = time.perf_counter()
    times = _timed_each(files, calamine_read)
    return {"files": len(files), "wall_s": time.perf_counter() - t, "per_file_s": times}


def stage_floor_openpyxl(work: Path, jobs: int, args) -> dict:
    import openpyxl

    def load(path: Path) -> None:
        openpyxl.load_workbook(path).close()

    files = _files(work)
    t = time.perf_counter()
    times = _timed_each(files, load)
    return {"files": len(files), "wall_s": time.perf_counter() - t, "per_file_s": times}


def _summary(reports) -> dict:
    codes: dict[str, int] = {}
    for r in reports:
        for f in r.findings:
            codes[f.code] = codes.get(f.code, 0) + 1
    return {"invalid": sum(1 for r in reports if not r.valid), "findings": dict(sorted(codes.items()))}


def stage_check(work: Path, jobs: int, args, files: list[Path] | None = None) -> dict:
    """`validate`, as `xlform validate 回收/ --manifest … --jobs J` runs it: the returned folder (or
    `files`), the manifest read into its index (beside the workers when there are some), no copies."""
    from xlform.validate import validate
    paths = files if files is not None else [work / "returned"]
    timer = PerFile()
    t = time.perf_counter()
    run = validate(paths, work / "issued" / "manifest.json", None, jobs=jobs,
                   progress=timer.wrap if jobs == 1 else None)
    return {"files": len(run.files), "wall_s": time.perf_counter() - t, "per_file_s": timer.times,
            **_summary(run.files)}


def stage_annotate(work: Path, jobs: int, args, files: list[Path] | None = None, out: Path | None = None) -> dict:
    """The same with an annotated copy of every file written into `out` (`--out`)."""
    from xlform.validate import validate
    paths = files if files is not None else [work / "returned"]
    out = out or _clean(work / f"annotated-j{jobs}")
    timer = PerFile()
    t = time.perf_counter()
    run = validate(paths, work / "issued" / "manifest.json", out, jobs=jobs,
                   progress=timer.wrap if jobs == 1 else None)
    wall = time.perf_counter() - t
    written = sum(1 for r in run.files if r.annotated)
    return {"files": len(run.files), "wall_s": wall, "per_file_s": timer.times, "annotated": written,
            **_summary(run.files)}


def stage_consolidate(work: Path, jobs: int, args, files: list[Path] | None = None,
                      out: Path | None = None) -> dict:
    from xlform.consolidate import consolidate
    paths = files if files is not None else [work / "returned"]
    out = out or work / f"consolidated-j{jobs}.xlsx"
    timer = PerFile()
    t = time.perf_counter()
    r = consolidate(paths, work / "issued" / "manifest.json", out, jobs=jobs,
                    progress=timer.wrap if jobs == 1 else None)
    wall = time.perf_counter() - t
    return {"files": r.files, "wall_s": wall, "per_file_s": timer.times, "indicator_rows": r.indicator_rows,
            "finding_rows": r.finding_rows, "out_mb": round(out.stat().st_size / 1048576, 2)}


def stage_profile(work: Path, jobs: int, args) -> dict:
    """cProfile of one stage, jobs=1, on the first --profile-files files: where its time goes."""
    import cProfile
    import pstats
    which = args.what
    k = args.profile_files
    files = _files(work)[:k]
    out = _clean(work / f"profile-{which}")     # emptied before the clock starts
    lists = sorted(work.glob("projects-profile.*"))
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    if which == "generate":
        from xlform.generate import generate
        files = generate(lists[0], out, jobs=1).files
    elif which == "check":
        stage_check(work, 1, args, files)
    elif which == "annotate":
        stage_annotate(work, 1, args, files, out=out)
    elif which == "consolidate":
        stage_consolidate(work, 1, args, files, out=out / "consolidated.xlsx")
    prof.disable()
    wall = time.perf_counter() - t
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:args.top]:
        where = _short(file)
        rows.append({"function": f"{where}:{line}({func})" if line else func, "ncalls": nc,
                     "tottime_s": round(tt, 4), "cumtime_s": round(ct, 4), "share": round(tt / total, 4)})
    text = work / f"profile-{which}.txt"
    with open(text, "w") as fh:
        pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(40)
    return {"files": len(files), "wall_s": wall,
            "per_file_s": [], "what": which, "profiled_total_s": round(total, 3), "top": rows,
            "by_module": _by_module(st, total), "cumulative": _cumulative(st, total)}


def _short(file: str) -> str:
    """xlform/read.py, xlsxwriter/worksheet.py, json/encoder.py (stdlib), or the name as cProfile gives it."""
    if file.startswith("~") or file.startswith("<"):
        return file
    p = Path(file)
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        pass
    parts = p.parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages"):])
    std = [i for i, x in enumerate(parts) if x.startswith("python3")]
    return "/".join(parts[std[-1] + 1:]) if std else p.name


ENTRY_POINTS = {("xlsxwriter/workbook.py", "close"), ("json/__init__.py", "dump"), ("json/__init__.py", "loads"),
                ("~", "<method 'to_python' of 'builtins.CalamineSheet' objects>"),
                ("~", "<built-in method from_path>"), ("zipfile.py", "__init__"), ("copy.py", "deepcopy"),
                ("dataclasses.py", "asdict")}


def _cumulative(st, total: float, limit: int = 16) -> list[dict]:
    """Inclusive time of xlform's own functions and a few library entry points: the phases of a stage."""
    rows = []
    for (file, line, func), (_cc, nc, _tt, ct, _callers) in st.stats.items():
        s = _short(file)
        if s.startswith(("xlform/", "bench/")) or (s, func) in ENTRY_POINTS:
            if func in ("<module>", "<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>"):
                continue
            rows.append({"function": f"{s}:{line}({func})" if line else func, "ncalls": nc,
                         "cumtime_s": round(ct, 4), "share": round(ct / total, 4)})
    return sorted(rows, key=lambda r: -r["cumtime_s"])[:limit]


def _by_module(st, total: float) -> list[dict]:
    """Own time grouped by library: where the time goes at a glance."""
    groups: dict[str, float] = {}
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():
        if file.startswith("~"):
            key = "builtins: " + _builtin_owner(func)
        else:
            s = _short(file)
            top = s.split("/")[0]
            key = s if top in ("xlform", "bench") else top.removesuffix(".py")
        groups[key] = groups.get(key, 0.0) + tt
    return [{"module": k, "tottime_s": round(v, 3), "share": round(v / total, 4)}
            for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:14]]


def _builtin_owner(func: str) -> str:
    # "<method 'to_python' of 'builtins.CalamineSheet' objects>" -> CalamineSheet.to_python
    if func.startswith("<method '") and " of '" in func:
        name = func.split("'")[1]
        owner = func.split(" of '")[1].split("'")[0].split(".")[-1]
        return f"{owner}.{name}"
    if func.startswith("<built-in method "):
        return func[len("<built-in method "):].split(">")[0].split(" ")[0]
    return func


def _spin(n: int) -> None:
    x = 0
    for i in range(n):
        x += i


def stage_ceiling(work: Path, jobs: int, args) -> dict:
    """What this machine gives two processes of pure-Python CPU work, no I/O, nothing shared: the most any
    stage can gain from jobs 2 here (a VM's two vCPUs are not always two free cores)."""
    from multiprocessing import get_context
    ctx = get_context("fork")
    loops = 4_000_000 if args.n and args.n < 100 else 20_000_000
    reps = 1 if args.n and args.n < 100 else 3
    ratios = []
    for _ in range(reps):
        walls = {}
        for k in (1, 2):
            t = time.perf_counter()
            ps = [ctx.Process(target=_spin, args=(loops,)) for _ in range(k)]
            for q in ps:
                q.start()
            for q in ps:
                q.join()
            walls[k] = time.perf_counter() - t
        ratios.append(2 * walls[1] / walls[2])
    return {"files": 0, "wall_s": None, "ratios": [round(r, 2) for r in ratios],
            "ceiling": round(statistics.median(ratios), 2)}


STAGES = {"ceiling": stage_ceiling, "setup": stage_setup, "generate": stage_generate, "floor-write": stage_floor_write,
          "floor-read-write": stage_floor_read_write,
          "fill": stage_fill, "floor-calamine": stage_floor_calamine, "floor-openpyxl": stage_floor_openpyxl,
          "check": stage_check, "annotate": stage_annotate, "consolidate": stage_consolidate,
          "profile": stage_profile}


def run_stage(args) -> None:
    work = Path(args.work)
    fn = STAGES[args.stage]
    load = os.getloadavg()[0]
    res = fn(work, args.n, args) if args.stage == "setup" else fn(work, args.jobs, args)
    res.update(_memory())
    res["stage"], res["jobs"] = args.stage, args.jobs
    res["load_before"], res["load_after"] = round(load, 2), round(os.getloadavg()[0], 2)
    times = res.pop("per_file_s", [])
    if times:
        ms = sorted(w * 1000 for w, _ in times)
        res["median_ms"] = round(statistics.median(ms), 3)
        res["p90_ms"] = round(ms[min(len(ms) - 1, int(len(ms) * 0.9))], 3)
        res["mean_ms"] = round(statistics.fmean(ms), 3)
        res["median_cpu_ms"] = round(statistics.median(c * 1000 for _, c in times), 3)
    if res.get("wall_s"):
        res["files_per_s"] = round(res["files"] / res["wall_s"], 2)
        res["wall_s"] = round(res["wall_s"], 3)
    print(RESULT_TAG + json.dumps(res, ensure_ascii=False))


# ================================================================ driver side

def _python() -> str:
    return sys.executable


def cpu_busy(interval: float = 1.0) -> float | None:
    """CPUs' worth of work done by anything on the machine over `interval` seconds (/proc/stat)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            parts = [int(x) for x in fh.readline().split()[1:]]
        return sum(parts), parts[3] + (parts[4] if len(parts) > 4 else 0)
    try:
        t0, i0 = sample()
        time.sleep(interval)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (1 - (i1 - i0) / max(1, t1 - t0)) * (os.cpu_count() or 1)


QUIET = {"wait_s": 0.0}


def wait_quiet() -> float | None:
    """Wait (at most QUIET['wait_s'] seconds) until the machine is idle: other work skews the timings."""
    deadline = time.monotonic() + QUIET["wait_s"]
    busy = cpu_busy(0.5)
    while busy is not None and busy > 0.25 and time.monotonic() < deadline:
        time.sleep(5)
        busy = cpu_busy(1.0)
    return busy


def call(stage: str, work: Path, *, jobs: int = 1, n: int = 0, extra: list[str] = (), log=None) -> dict:
    busy = wait_quiet() if QUIET["wait_s"] else cpu_busy(0.5)
    cmd = [_python(), str(Path(__file__).resolve()), "--stage", stage, "--work", str(work), "--jobs", str(jobs),
           "--n", str(n), *extra]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-8000:])
        raise SystemExit(f"bench: stage {stage} (jobs {jobs}) failed with exit status {p.returncode}")
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith(RESULT_TAG)), None)
    if line is None:
        raise SystemExit(f"bench: stage {stage} printed no result:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    res = json.loads(line[len(RESULT_TAG):])
    res["process_s"] = round(time.perf_counter() - t, 2)
    res["busy_before"] = None if busy is None else round(busy, 2)
    # CPU seconds per wall second: about 1 for a jobs-1 stage that had a CPU to itself
    res["cpu_per_wall"] = round(res["cpu_s"] / res["process_s"], 2) if res["process_s"] else None
    if log:
        log(res)
    return res


def _fmt(v, spec: str = "") -> str:
    return "—" if v is None else format(v, spec)


def _line(r: dict) -> str:
    name = r["stage"] + (f" ({r['what']})" if r.get("what") else "")
    return (f"  {name:<16} {r['jobs']:>4} {r['files']:>6} {_fmt(r.get('wall_s'), '8.2f')} "
            f"{_fmt(r.get('files_per_s'), '8.1f')} {_fmt(r.get('median_ms'), '9.2f')} "
            f"{_fmt(r.get('median_cpu_ms'), '8.2f')} {_fmt(r.get('p90_ms'), '8.2f')} {r['cpu_s']:>7.1f} "
            f"{r['peak_mb']:>8.1f} {r['rss_self_mb']:>6.1f} {r['rss_children_mb']:>7.1f} {_fmt(r.get('busy_before'), '5.2f')} "
            f"{_fmt(r.get('cpu_per_wall'), '5.2f')}")


HEADER = (f"  {'stage':<16} {'jobs':>4} {'files':>6} {'wall_s':>8} {'files/s':>8} {'median_ms':>9} "
          f"{'cpu_ms':>8} {'p90_ms':>8} {'cpu_s':>7} {'peak_MB':>8} {'self':>6} {'worker':>7} {'busy':>5} {'cpu/w':>5}")


def machine() -> dict:
    from importlib.metadata import version
    cpu = ""
    try:
        for ln in open("/proc/cpuinfo", encoding="utf-8"):
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem = ""
    try:
        for ln in open("/proc/meminfo", encoding="utf-8"):
            if ln.startswith("MemTotal"):
                mem = f"{int(ln.split()[1]) / 1048576:.1f} GiB"
    except OSError:
        pass
    libs = {}
    for lib in ("xlsxwriter", "python-calamine", "isal", "openpyxl", "defusedxml", "PyYAML", "Jinja2"):
        try:
            libs[lib] = version(lib)
        except Exception:  # noqa: BLE001
            libs[lib] = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "xlform"], capture_output=True,
                                    text=True, cwd=ROOT).stdout.strip())
    except OSError:
        commit, dirty = "", False
    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "cpu": cpu, "memory": mem, "python": platform.python_version(), "platform": platform.platform(),
            "libraries": libs, "deflate": _deflater(),
            "commit": commit + (" + uncommitted xlform changes" if dirty else "")}


def _deflater() -> str:
    """Which deflate xlform's writer uses here (the `fast` extra installed or not): it moves generate and
    the annotated write by several per cent."""
    from xlform import fastzlib
    return "ISA-L (isal)" if fastzlib.accelerated() else "zlib (the fast extra is not installed)"


def round_measures(s: dict) -> dict[str, float | None]:
    """The ratios one round gives: each stage against its floor (per-file medians, jobs 1, measured back
    to back), and each stage's jobs 2 against its jobs 1 (whole stage, measured back to back)."""
    def val(stage: str, key: str, jobs: int = 1) -> float | None:
        r = s.get(f"{stage}:j{jobs}")
        if not r:
            return None
        if key == "wall":   # whole stage, per file
            return r["wall_s"] / r["files"] * 1000 if r.get("files") else None
        return r.get(key)

    out: dict[str, float | None] = {}
    for name, (top, floor) in FLOOR_RATIOS.items():
        for key, suffix in (("median_ms", ""), ("median_cpu_ms", " cpu"), ("wall", " whole")):
            a, b = val(top, key), val(floor, key)
            out[name + suffix] = a / b if a is not None and b else None
    for stage in PROFILED:
        a, b = val(stage, "wall_s"), val(stage, "wall_s", 2)
        out[f"{stage} speedup"] = a / b if a is not None and b else None
    return out


FLOOR_RATIOS = {"generate / bare xlsxwriter": ("generate", "floor-write"),
                "check / bare calamine read": ("check", "floor-calamine"),
                "check / bare openpyxl load": ("check", "floor-openpyxl"),
                "annotate / (calamine read + xlsxwriter write)": ("annotate", "floor-read-write")}
FLOOR_LIMITS = {"generate / bare xlsxwriter": TARGETS["generate"], "check / bare calamine read": TARGETS["check"],
                "annotate / (calamine read + xlsxwriter write)": TARGETS["annotate"]}


def _spread(values: list[float | None]) -> dict:
    got = [v for v in values if v is not None]
    return {"median": statistics.median(got) if got else None, "rounds": [None if v is None else round(v, 3)
                                                                          for v in values]}


def verdicts(res: dict) -> tuple[dict, list[dict]]:
    """Ratios against the floors, jobs 2 vs 1, and PASS/MISS for each target.

    Each ratio is taken within one round, from stages run back to back, and the verdict is the median
    over the rounds: this machine's speed drifts by up to 30 % within minutes (docs/performance.md), so
    a ratio of two stages run minutes apart measures the machine as much as the code."""
    rounds = [dict(r) for r in res["rounds"]]
    for r in rounds:   # the slow openpyxl floor runs once, before the rounds
        if "floor-openpyxl:j1" in res["stages"]:
            r.setdefault("floor-openpyxl:j1", res["stages"]["floor-openpyxl:j1"])
    per_round = [round_measures(r) for r in rounds]
    spread = {k: _spread([m[k] for m in per_round]) for k in per_round[0]} if per_round else {}
    ratios = {name: {"median": spread[name]["median"], "median_cpu": spread[name + " cpu"]["median"],
                     "whole_stage": spread[name + " whole"]["median"], "rounds": spread[name]["rounds"],
                     "limit": FLOOR_LIMITS.get(name)} for name in FLOOR_RATIOS if name in spread}
    targets = []

    def target(name: str, value, limit: float, better: str, note: str = "", each: list | None = None) -> None:
        if value is None:
            targets.append({"target": name, "value": None, "limit": limit, "result": "NOT RUN", "note": note})
            return
        ok = value <= limit if better == "low" else value >= limit
        if each:
            held = sum(1 for v in each if v is not None and (v <= limit if better == "low" else v >= limit))
            note = f"rounds {', '.join(_fmt(v, '.2f') for v in each)}: {held} of {len(each)} within the limit" \
                + (f"; {note}" if note else "")
        targets.append({"target": name, "value": round(value, 3), "limit": limit,
                        "result": "PASS" if ok else "MISS", "note": note, "rounds": each or []})

    for key, r in ratios.items():
        if r["limit"] is not None:
            target(f"{key} ≤ {r['limit']}× (per-file median, jobs 1; median of rounds)", r["median"], r["limit"],
                   "low", f"CPU-time median {_fmt(r['median_cpu'], '.2f')}×, whole stage {_fmt(r['whole_stage'], '.2f')}×",
                   r["rounds"])
    ceilings = [r["ceiling:j1"]["ceiling"] for r in rounds if r.get("ceiling:j1")]
    for stage in PROFILED:
        sp = spread.get(f"{stage} speedup")
        if not sp:
            continue
        note = ""
        a, b = res["stages"].get(f"{stage}:j1"), res["stages"].get(f"{stage}:j2")
        if a and b and b.get("cpu_s"):
            # what an idle machine would show if jobs 1 took its CPU time and jobs 2 its parent's CPU time
            # plus half its workers': an estimate, not a bound (the parent's work beside the workers is
            # counted as serial, the workers' imbalance and the machine's two-process slowdown ignored)
            ideal = a["cpu_s"] / (b["cpu_self_s"] + b["cpu_children_s"] / 2)
            note = (f"CPU s {a['cpu_s']:.1f} → {b['cpu_s']:.1f} (parent {b['cpu_self_s']:.1f} + workers "
                    f"{b['cpu_children_s']:.1f}); CPU-model estimate on an idle machine ≈ {ideal:.2f}×")
        if ceilings:
            note += f"; this machine's ceiling for 2 processes, per round: {', '.join(f'{c:.2f}' for c in ceilings)}×"
        target(f"{stage}: jobs 2 ≥ 1.7× jobs 1 (whole stage; median of rounds)", sp["median"], TARGETS["speedup"],
               "high", note, sp["rounds"])
    scale = res.get("scale")
    if scale:
        for j in res["jobs"]:
            r = scale["stages"].get(f"consolidate:j{j}")
            if r:
                note = f"parent {r['rss_self_mb']:.0f} MB + largest worker {r['rss_children_mb']:.0f} MB"
                if j > 1:
                    note += f"; parent + {j} workers ≤ {r['rss_self_mb'] + j * r['rss_children_mb']:.0f} MB"
                target(f"consolidate {r['files']} files, jobs {j}: peak memory < 300 MB", r["peak_mb"],
                       TARGETS["consolidate_mb"], "low", note)
        for j in res["jobs"]:
            big = scale["stages"].get(f"consolidate:j{j}")
            small = [scale["stages"].get(f"consolidate-small:j{j}:{k}") for k in ("before", "after")]
            if big and all(small):
                per_small = statistics.fmean(x["wall_s"] / x["files"] for x in small)
                cpu_small = statistics.fmean(x["cpu_s"] / x["files"] for x in small)
                growth = (big["wall_s"] / big["files"]) / per_small
                cpu = (big["cpu_s"] / big["files"]) / cpu_small
                target(f"consolidate time linear in N, jobs {j} ({small[0]['files']} → {big['files']} files)", growth,
                       TARGETS["linear"], "low",
                       f"wall time per file at the large N ÷ at the small N (the small N run just before and just "
                       f"after the large one, averaged); CPU time per file {cpu:.2f}×")
    return ratios, targets


def _table_rows(res: dict) -> list[dict]:
    rows = [r for r in res["stages"].values() if r["stage"] not in ("setup", "profile", "ceiling")]
    return rows + (list(res["scale"]["stages"].values()) if res.get("scale") else [])


def markdown(res: dict) -> str:
    out = ["| stage | jobs | files | wall s | wall s, each round | files/s | median ms/file | median CPU ms/file | "
           "p90 ms | CPU s | peak MB (self + largest worker) | other load before (CPUs) | CPU s / wall s |",
           "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in _table_rows(res):
        each = ", ".join(_fmt(w, ".2f") for w in r.get("rounds_wall_s", []))
        out.append(f"| {r['stage']}{' ' + r['role'] if r.get('role') else ''} | {r['jobs']} | {r['files']} | "
                   f"{_fmt(r.get('wall_s'), '.2f')} | {each} | "
                   f"{_fmt(r.get('files_per_s'), '.1f')} | {_fmt(r.get('median_ms'), '.2f')} | "
                   f"{_fmt(r.get('median_cpu_ms'), '.2f')} | {_fmt(r.get('p90_ms'), '.2f')} | {r['cpu_s']:.1f} | "
                   f"{r['peak_mb']:.0f} ({r['rss_self_mb']:.0f} + {r['rss_children_mb']:.0f}) | "
                   f"{_fmt(r.get('busy_before'), '.2f')} | {_fmt(r.get('cpu_per_wall'), '.2f')} |")
    out += ["", "| ratio (jobs 1) | per-file median | per-file median CPU | whole stage | per-file median, each round |",
            "|---|---:|---:|---:|---|"]
    for k, v in res["ratios"].items():
        out.append(f"| {k} | {_fmt(v['median'], '.2f')}× | {_fmt(v['median_cpu'], '.2f')}× | "
                   f"{_fmt(v['whole_stage'], '.2f')}× | {', '.join(_fmt(x, '.2f') for x in v['rounds'])} |")
    out += ["", "| target | measured (median of rounds) | limit | result | note |", "|---|---:|---:|---|---|"]
    for t in res["targets"]:
        out.append(f"| {t['target']} | {_fmt(t['value'])} | {t['limit']} | **{t['result']}** | {t.get('note', '')} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="projects (default 1000; --quick 100)")
    ap.add_argument("--quick", action="store_true", help="N=100, short profile: only checks that it runs")
    ap.add_argument("--jobs", default="1,2", help="job counts to run each stage with (default 1,2)")
    ap.add_argument("--work", help="working folder (default build/bench/n<N>; emptied first)")
    ap.add_argument("--consolidate-scale", type=int, default=0, metavar="M",
                    help="also generate+fill M projects and consolidate them (memory and linearity)")
    ap.add_argument("--timebox-min", type=float, default=20.0,
                    help="if generate+fill of M is estimated above this, use M/2 instead (default 20)")
    ap.add_argument("--profile-files", type=int, default=None, help="files per profile (default 200; 0: none)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--no-openpyxl", action="store_true", help="skip the (slow) openpyxl floor")
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed rounds, each running every stage and its floor back to back, every other round "
                         "in reverse order; ratios are taken per round and their median judged (default 3; --quick 1)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each stage wait up to S seconds for the machine to be idle (a shared machine)")
    ap.add_argument("--top", type=int, default=15, help="functions per profile summary")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--markdown", help="write the tables as Markdown here")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--what", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.profile_files is None:
        args.profile_files = 50 if args.quick else 200
    if args.stage:
        args.n = args.n or 0
        args.jobs = int(args.jobs)
        run_stage(args)
        return 0
    n = args.n or (100 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 3)
    QUIET["wait_s"] = args.wait_quiet
    jobs = [int(j) for j in args.jobs.split(",")]
    work = Path(args.work) if args.work else ROOT / "build" / "bench" / f"n{n}"
    shutil.rmtree(work, ignore_errors=True)     # (before setup, the issued set and the fill: see _clean)
    work.mkdir(parents=True)
    _compile()
    started = time.perf_counter()
    res: dict[str, Any] = {"machine": machine(), "n": n, "jobs": jobs, "work": str(work), "stages": {},
                           "rounds": []}
    m = res["machine"]
    print(f"xlform benchmark — N = {n}, jobs {jobs}, {rounds} round(s), work {work}")
    print(f"  {m['date']} · {m['nproc']} CPUs · {m['cpu']} · {m['memory']} · Python {m['python']} · "
          + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()) + f" · deflate: {m.get('deflate', '?')}")
    print(HEADER)

    def log(r: dict, into: dict | None = None, tag: str = "") -> None:
        (res["stages"] if into is None else into)[
            f"{r['stage']}:j{r['jobs']}" + (f":{r['what']}" if r.get("what") else "")] = r
        if r["stage"] == "setup":
            print(f"  setup: {r['files']} projects {r['forms']}, indicators {r['indicators_min']}–"
                  f"{r['indicators_max']} (median {r['indicators_median']}), {r['process_s']} s")
        elif r["stage"] == "ceiling":
            print(f"  machine ceiling{tag}: 2 processes of pure-Python CPU work run {r['ceiling']}× as fast as 1 "
                  f"(median of {r['ratios']})")
        elif r["stage"] == "profile":
            print(f"  profile {r['what']}: {r['files']} files, {r['profiled_total_s']} s under cProfile")
        else:
            print(_line(r) + tag, flush=True)

    common = ["--profile-files", str(args.profile_files)]
    run_pipeline(res, work, n, jobs, rounds, common, log, args)
    if not args.no_profile and args.profile_files:
        for what in PROFILED:
            call("profile", work, n=n, extra=common + ["--what", what, "--top", str(args.top)], log=log)

    if args.consolidate_scale:
        res["scale"] = run_scale(res, work, n, jobs, args)

    _empty_trash(work)
    res["ratios"], res["targets"] = verdicts(res)
    res["total_s"] = round(time.perf_counter() - started, 1)
    print_report(res)
    (work / "results.json").write_text(json.dumps(res, ensure_ascii=False, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, ensure_ascii=False, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(markdown(res))
    return 0


def _compile() -> None:
    """Byte-compile xlform first, as installing it does: where PYTHONDONTWRITEBYTECODE is set (as on this
    machine), every stage's fresh process would otherwise compile xlform's source again (~0.1 s), a
    serial cost no installed copy pays. compileall writes the caches whatever that variable says."""
    import compileall
    compileall.compile_dir(str(ROOT / "xlform"), quiet=1)


# One round: each floor and jobs 1 and 2 of the stage it is the floor of, back to back. Every other round
# runs in reverse order, so that a steady drift of the machine's speed favours neither side of a ratio.
ROUND = [("floor-write", 1), ("generate", 1), ("generate", 2), ("floor-calamine", 1), ("check", 1), ("check", 2),
         ("floor-read-write", 1), ("annotate", 1), ("annotate", 2), ("consolidate", 1), ("consolidate", 2)]


def run_pipeline(res: dict, work: Path, n: int, jobs: list[int], rounds: int, common: list[str], log, args) -> None:
    call("setup", work, n=n, extra=common, log=log)
    first = max(jobs)
    # the issued set every later stage uses (the templates a bureau would send out), then the returns
    call("generate", work, jobs=first, n=n, log=lambda r: log(r, {}, "   [the issued set: setup]"))
    _keep_issued(work, first)
    call("fill", work, jobs=first, n=n, log=lambda r: log(r, tag="   [setup, not a target]"))
    if not args.no_openpyxl:   # not a target, and slow: once
        call("floor-openpyxl", work, n=n, log=log)
    for k in range(rounds):
        got: dict[str, dict] = {}
        res["rounds"].append(got)
        tag = f"   [round {k + 1}]"
        if len(jobs) > 1:
            call("ceiling", work, n=n, log=lambda r: log(r, got, f" (round {k + 1})"))
        for stage, j in (ROUND if k % 2 == 0 else ROUND[::-1]):
            if j in jobs or stage.startswith("floor"):
                call(stage, work, jobs=j, n=n, log=lambda r: log(r, got, tag))
                if stage == "generate":
                    _clean(work / f"gen-j{j}")
    # the table's line for each stage: its median round (by wall time), with every round's wall time
    for key in res["rounds"][0] if res["rounds"] else ():
        runs = sorted((r[key] for r in res["rounds"] if key in r), key=lambda r: r.get("wall_s") or 0)
        mid = dict(runs[(len(runs) - 1) // 2])
        mid["rounds_wall_s"] = [r[key].get("wall_s") for r in res["rounds"] if key in r]
        res["stages"][key] = mid


def _keep_issued(work: Path, j: int) -> None:
    """One generate run's output becomes the issued set every later stage uses; the others go."""
    for d in work.glob("gen-j*"):
        if d.name == f"gen-j{j}":
            d.rename(work / "issued")
        else:
            _clean(d)


def run_scale(res: dict, work: Path, n: int, jobs: list[int], args) -> dict:
    """generate + fill M more projects (distinct codes), then consolidate them with each job count, each
    run between two consolidations of the N files: the linearity ratio compares runs a minute apart."""
    s = res["stages"]
    m = args.consolidate_scale
    j = max(jobs)
    per_file = (s[f"generate:j{j}"]["wall_s"] + s[f"fill:j{j}"]["wall_s"]) / n
    estimate = per_file * m / 60
    note = ""
    if estimate > args.timebox_min:
        smaller = m // 2
        note = (f"generate+fill of {m} estimated at {estimate:.0f} min (> {args.timebox_min:g} min time box): "
                f"ran {smaller} instead")
        m = smaller
    print(f"\n  consolidate scale: N = {m}" + (f" ({note})" if note else f" (generate+fill estimated {estimate:.1f} min)"))
    sw = _clean(work / f"scale-{m}")
    out: dict[str, Any] = {"n": m, "note": note, "stages": {}}

    def log(r: dict, key: str = "", tag: str = "") -> None:
        out["stages"][key or f"{r['stage']}:j{r['jobs']}"] = r
        print(_line(r) + tag, flush=True)

    t = time.perf_counter()
    call("setup", sw, n=m, extra=["--profile-files", "0"], log=lambda r: None)
    call("generate", sw, jobs=j, n=m, log=lambda r: log(r, tag="   [setup]"))
    _keep_issued(sw, j)
    call("fill", sw, jobs=j, n=m, log=lambda r: log(r, tag="   [setup]"))
    out["generate_fill_min"] = round((time.perf_counter() - t) / 60, 1)
    for jj in jobs:
        for when in ("before", "", "after"):
            if not when:
                call("consolidate", sw, jobs=jj, n=m, log=log)
                continue
            r = call("consolidate", work, jobs=jj, n=n, log=lambda r: log(
                r, f"consolidate-small:j{jj}:{when}", f"   [N = {n}, {when} N = {m}]"))
            r["role"] = f"(N = {n}, {when})"
    return out


def print_report(res: dict) -> None:
    print(f"\n{'ratios (jobs 1), median of rounds':<48} {'median':>8} {'CPU med':>8} {'whole':>8}   each round")
    for k, v in res["ratios"].items():
        print(f"  {k:<46} {_fmt(v['median'], '7.2f')}× {_fmt(v['median_cpu'], '7.2f')}× "
              f"{_fmt(v['whole_stage'], '7.2f')}×   {', '.join(_fmt(x, '.2f') for x in v['rounds'])}")
    print("\ntargets")
    for t in res["targets"]:
        print(f"  [{t['result']:<4}] {t['target']}: {_fmt(t['value'])} (limit {t['limit']})"
              + (f" — {t['note']}" if t.get("note") else ""))
    profiles = [r for r in res["stages"].values() if r["stage"] == "profile"]
    for p in profiles:
        print(f"\nprofile {p['what']} ({p['files']} files, jobs 1, {p['profiled_total_s']} s): own time by module")
        print("  " + "; ".join(f"{g['module']} {g['share']:.0%}" for g in p["by_module"][:8]))
        print("  own time (tottime):")
        for row in p["top"][:10]:
            print(f"    {row['tottime_s']:8.3f}s {row['share']:6.1%} {row['ncalls']:>8}  {row['function']}")
        print("  inclusive time (cumtime) of xlform functions and library entry points:")
        for row in p["cumulative"][:12]:
            print(f"    {row['cumtime_s']:8.3f}s {row['share']:6.1%} {row['ncalls']:>8}  {row['function']}")
    rows = [r for rnd in res["rounds"] for r in rnd.values()] + [
        r for r in _table_rows(res) if "rounds_wall_s" not in r]
    busy = [f"{r['stage']}:j{r['jobs']}" for r in rows if r["stage"] not in ("profile", "setup", "ceiling") and (
        (r.get("busy_before") or 0) > 0.3 or (r["jobs"] == 1 and (r.get("cpu_per_wall") or 1) < 0.8))]
    busy = list(dict.fromkeys(busy))
    res["contended"] = busy
    if busy:
        print(f"\nwarning: other work was running on the machine (more than 0.3 CPUs busy just before, or a jobs-1 "
              f"stage got less than 0.8 CPU s per wall s) during: {', '.join(busy)}; their wall times and the "
              f"jobs-2 speedups are unreliable: compare CPU times")
    print(f"\ntotal {res['total_s']} s; results in {res['work']}/results.json")


if __name__ == "__main__":
    sys.exit(main())
