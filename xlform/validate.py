"""validate: read returned workbooks, prove whose they are, check, score, annotate, report.

One file's problems never stop the batch: every failure becomes a finding on that file. The
returned files are only read; annotated copies and the JSON report are written atomically.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import XlformError
from .findings import ERROR, Finding, counts, finding
from .layout import Layout, build_layout, cell_ref
from .manifest import Manifest, ManifestEntry
from .projects import Project
from .read import ReadError, WorkbookData, read_workbook
from .rules import CONTENT_CHECKS, Context
from .score import ScoreResult, compute, self_score
from .spec import FormSpec, available_forms

SKIP_PREFIXES = (".", "~$", ".~")


@dataclass
class FileReport:
    path: str
    project_code: str | None = None
    department: str = ""
    project_name: str = ""
    unit: str = ""
    form: str | None = None
    form_version: str | None = None
    findings: list[Finding] = field(default_factory=list)
    score: dict | None = None          # total, grade, execution_rate, groups {name: score}
    self_score: float | None = None
    annotated: str | None = None
    indicators: list[dict] = field(default_factory=list)
    funds: dict = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not any(f.severity == ERROR for f in self.findings)

    def to_dict(self) -> dict:
        return {"path": self.path, "project_code": self.project_code, "department": self.department,
                "project_name": self.project_name,
                "form": None if self.form is None else {"id": self.form, "version": self.form_version},
                "valid": self.valid, "score": self.score, "self_score": self.self_score,
                "annotated": self.annotated, "counts": counts(self.findings),
                "findings": [{k: v for k, v in f.to_dict().items()} for f in self.findings]}


@dataclass
class RunReport:
    files: list[FileReport]
    manifest: str

    def stats(self) -> dict:
        n_err = sum(1 for f in self.files if not f.valid)
        scores = [f.score["total"] for f in self.files if f.score]
        c = counts([x for f in self.files for x in f.findings])
        return {"files": len(self.files), "valid": len(self.files) - n_err, "invalid": n_err,
                "errors": c["error"], "warnings": c["warning"], "infos": c["info"],
                "average_score": round(sum(scores) / len(scores), 2) if scores else None}

    def to_dict(self) -> dict:
        return {"xlform": __import__("xlform").__version__, "manifest": self.manifest,
                "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
                "files": [f.to_dict() for f in self.files], "stats": self.stats()}


def collect_files(paths: Iterable[str | Path], exclude: Path | None = None) -> list[Path]:
    """Files named, and every file in folders named (recursively), skipping temp and lock files."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.name.startswith(SKIP_PREFIXES) or f.suffix.lower() in (".json", ".zip"):
                    continue
                if exclude is not None and exclude.resolve() in f.resolve().parents:
                    continue
                out.append(f)
        elif p.exists():
            out.append(p)
        else:
            raise XlformError(f"找不到文件或文件夹：{p}")
    seen, unique = set(), []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _values(layout: Layout, data: WorkbookData) -> tuple[dict[str, Any], dict[str, tuple[str, str]], list[str]]:
    values, where, missing = {}, {}, []
    for name, f in layout.fields.items():
        loc = data.names.get(f.defined_name)
        if loc is None:
            missing.append(name)
            loc = (layout.sheet, f.row, f.col)
        sheet, row, col = loc
        values[name] = data.value_at(sheet, row, col)
        where[name] = (sheet, cell_ref(row, col))
    return values, where, missing


def check_file(path: Path, manifest: Manifest, forms: dict[str, FormSpec],
               annotate_to: Path | None = None) -> tuple[FileReport, Layout | None, ScoreResult | None]:
    report = FileReport(path=str(path))
    try:
        data = read_workbook(path)
    except ReadError as exc:
        report.findings.append(finding(exc.code, f"{path.name}：{exc}"))
        return report, None, None
    meta = data.meta or {k[len("xlform."):]: v for k, v in data.properties.items() if k.startswith("xlform.")}
    code = meta.get("project_code")
    if not meta.get("form_id") or not code:
        report.findings.append(finding("XF101", f"{path.name} 不是本系统下发的工作簿：找不到表单元数据"))
        return report, None, None
    report.project_code, report.form, report.form_version = code, meta.get("form_id"), meta.get("form_version")
    entry: ManifestEntry | None = manifest.by_code().get(code)
    if entry is None:
        report.findings.append(finding("XF102", f"项目编码 {code} 不在本次下发的清单（manifest）中"))
        return report, None, None
    report.department, report.project_name = entry.department, entry.project_name
    if meta.get("form_id") != entry.form_id:
        report.findings.append(finding("XF103", f"工作簿的表单是“{meta.get('form_id')}”，"
                                                f"下发给项目 {code} 的是“{entry.form_id}”"))
        return report, None, None
    if meta.get("form_version") != entry.form_version:
        report.findings.append(finding("XF104", f"工作簿的表单版本是 {meta.get('form_version')}，"
                                                f"下发的是 {entry.form_version}"))
    if meta.get("fingerprint") and meta.get("fingerprint") != entry.fingerprint:
        report.findings.append(finding("XF106", "工作簿的指纹与 manifest 记录不同（可能来自另一次生成）"))
    spec = forms.get(entry.form_id)
    if spec is None:
        raise XlformError(f"manifest 中的表单 {entry.form_id} 在 templates/ 中找不到")
    layout = build_layout(spec, Project.from_dict(entry.project), entry.year)
    report.unit = str(layout.fields["unit"].value or "")
    if spec.sheet not in data.sheets:
        report.findings.append(finding("XF108", f"找不到工作表“{spec.sheet}”（现有：{'、'.join(data.sheet_names)}）"))
        return report, layout, None
    values, where, missing = _values(layout, data)
    if missing:
        report.findings.append(finding("XF107", f"缺少 {len(missing)} 个字段的定义名称（如 xf_{missing[0]}），"
                                                f"已按原位置读取", sheet=spec.sheet))
    ctx = Context(path, layout, entry, data, values, where)
    ctx.score = compute(layout, values)
    for check in CONTENT_CHECKS:
        check(ctx)
    report.findings.extend(ctx.findings)
    report.self_score = self_score(values, layout)
    report.score = summarize(layout, ctx.score)
    report.indicators = indicator_rows(layout, ctx.score, values)
    report.funds = funds(layout, values, ctx.score)
    if annotate_to is not None:
        from .annotate import annotate
        annotate(layout, annotate_to, project_code=code, fingerprint=entry.fingerprint, values=values,
                 score=ctx.score, findings=report.findings, source=path, self_score=report.self_score)
        report.annotated = str(annotate_to)
    return report, layout, ctx.score


def summarize(layout: Layout, score: ScoreResult) -> dict:
    ind = layout.spec.indicators
    groups = {}
    for key, value in score.groups.items():
        g1 = ind.groups[key[0]]
        groups[g1.name if len(key) == 1 else f"{g1.name}/{g1.children[key[1]].name}"] = round(value, 4)
    return {"total": round(score.total, 4), "grade": score.grade,
            "execution_rate": None if score.execution_rate is None else round(score.execution_rate, 6),
            "execution_score": round(score.execution_score, 4), "groups": groups}


def indicator_rows(layout: Layout, score: ScoreResult, values: dict[str, Any]) -> list[dict]:
    ind = layout.spec.indicators
    out = []
    for r in score.indicators:
        g1 = ind.groups[r.row.level1]
        out.append({"number": r.number, "level1": g1.name, "level2": g1.children[r.row.level2].name,
                    "name": r.name, "target": r.target.text, "actual": r.actual.text, "status": r.status,
                    "completion": r.completion, "points": r.points, "score": r.score, "reason": r.reason})
    return out


def funds(layout: Layout, values: dict[str, Any], score: ScoreResult) -> dict:
    from .score import execution
    rate, budget, executed = execution(layout, values)
    spec = layout.spec
    total_f = spec.fields_with_role("fund_total") or spec.fields_with_role("fund_budget")
    total = layout.fields[total_f[0].name].value if total_f else None
    if executed is None and rate is not None and isinstance(total, (int, float)):
        executed = total * rate
    return {"budget": total if budget is None else budget, "executed": executed, "rate": rate}


# ---------------------------------------------------------------- batches

_WORKER: dict = {}


def _init_worker(manifest_path: str, template_dirs: list[str] | None) -> None:
    _WORKER["manifest"] = Manifest.load(manifest_path)
    _WORKER["forms"] = available_forms([Path(d) for d in template_dirs] if template_dirs else None)


def _run_one(args: tuple[str, str | None]) -> FileReport:
    path, target = args
    try:
        report, _, _ = check_file(Path(path), _WORKER["manifest"], _WORKER["forms"],
                                  Path(target) if target else None)
    except XlformError as exc:
        report = FileReport(path=path, findings=[finding("XF002", f"{Path(path).name}：{exc}")])
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch
        report = FileReport(path=path, findings=[finding("XF002", f"{Path(path).name} 处理时出错："
                                                                    f"{type(exc).__name__}: {exc}")])
    return report


def annotated_names(files: list[Path], out_dir: Path) -> list[Path]:
    names, used = [], set()
    for f in files:
        stem = f.stem
        for suffix in ("-批注", "-已校验"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
        name, n = f"{stem}-批注.xlsx", 2
        while name.lower() in used:
            name, n = f"{stem}-批注({n}).xlsx", n + 1
        used.add(name.lower())
        names.append(out_dir / name)
    return names


def run_batch(files: list[Path], manifest_path: Path, targets: list[Path | None], *, jobs: int | None,
              templates: list[Path] | None, progress: Callable | None) -> list[FileReport]:
    tdirs = [str(d) for d in templates] if templates else None
    args = [(str(f), str(t) if t else None) for f, t in zip(files, targets)]
    jobs = max(1, jobs or os.cpu_count() or 1)
    wrap = progress or (lambda it, total=None: it)
    if jobs == 1 or len(files) <= 2:
        _init_worker(str(manifest_path), tdirs)
        return [_run_one(a) for a in wrap(args, total=len(args))]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(str(manifest_path), tdirs)) as ex:
        return list(wrap(ex.map(_run_one, args, chunksize=max(1, min(16, len(args) // (jobs * 4) or 1))),
                         total=len(args)))


def mark_duplicates(reports: list[FileReport]) -> None:
    by_code: dict[str, list[FileReport]] = {}
    for r in reports:
        if r.project_code and not any(f.code in ("XF101", "XF102") for f in r.findings):
            by_code.setdefault(r.project_code, []).append(r)
    for code, group in by_code.items():
        if len(group) < 2:
            continue
        for r in group:
            others = "、".join(Path(o.path).name for o in group if o is not r)
            r.findings.insert(0, finding("XF105", f"项目 {code} 收到 {len(group)} 份工作簿；另见：{others}"))


def validate(paths: Iterable[str | Path], manifest_path: str | Path, out_dir: str | Path | None = None, *,
             json_path: str | Path | None = None, jobs: int | None = None,
             templates: list[Path] | None = None, progress: Callable | None = None) -> RunReport:
    """Validate returned workbooks against the manifest; annotate into out_dir; optional JSON report."""
    manifest_path = Path(manifest_path)
    Manifest.load(manifest_path)  # fail early (exit 2) on an unreadable manifest
    out = Path(out_dir) if out_dir else None
    files = collect_files(paths, exclude=out)
    if not files:
        raise XlformError("没有找到要校验的文件")
    targets: list[Path | None] = annotated_names(files, out) if out else [None] * len(files)
    if out:
        out.mkdir(parents=True, exist_ok=True)
    reports = run_batch(files, manifest_path, targets, jobs=jobs, templates=templates, progress=progress)
    mark_duplicates(reports)
    run = RunReport(reports, str(manifest_path))
    if json_path:
        write_json(Path(json_path), run.to_dict())
    return run


def write_json(path: Path, data: dict) -> None:
    from .workbook import atomic_path
    tmp, commit = atomic_path(path)
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        commit()
    finally:
        if tmp.exists():
            tmp.unlink()
