"""Fill generated templates the way a department would, fast: for samples, tests and the benchmark.

`fill_workbook` writes the template again from the manifest entry with values in the input cells
(what Excel saves after a department types them). Options make the deliberate mistakes the
sample set needs: a changed target (tampering), protection removed, a formula with no cached
value. Not part of the xlform package: the bureau never fills forms.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from xlform.generate import workbook_meta
from xlform.layout import build_layout
from xlform.manifest import ManifestEntry
from xlform.projects import Project
from xlform.spec import get_form
from xlform.workbook import Extras, write_workbook


def fill_workbook(entry: ManifestEntry, values: dict[str, Any], out: Path, *, tamper: dict[str, Any] | None = None,
                  unprotect: bool = False, formulas_without_value: list[str] = ()) -> Path:
    """values: field name (e.g. ind_003_actual, self_score) -> value; tamper: field name -> new locked value."""
    spec = get_form(entry.form_id)
    layout = build_layout(spec, Project.from_dict(entry.project), entry.year)
    unknown = set(values) - set(layout.fields)
    if unknown:
        raise KeyError(f"unknown fields: {sorted(unknown)}")
    extras = Extras(values=dict(values))
    for name, v in (tamper or {}).items():
        extras.values[name] = v
    meta = workbook_meta(layout, entry.project_code, entry.fingerprint)
    write_workbook(layout, out, meta, extras=extras)
    if unprotect or formulas_without_value:
        refs = [layout.fields[n].ref for n in formulas_without_value]
        _patch(out, unprotect, refs)
    return out


def _patch(path: Path, unprotect: bool, formula_refs: list[str]) -> None:
    """Edit the sheet XML the way another program would leave it."""
    tmp = Path(tempfile.mkdtemp()) / path.name
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode("utf-8")
                if unprotect:
                    text = re.sub(r"<sheetProtection[^>]*/>", "", text)
                for ref in formula_refs:
                    # replace the cell's content with a formula that has no cached <v>
                    text = re.sub(rf'<c r="{ref}"([^>]*?)(?:/>|>.*?</c>)',
                                  lambda m: f'<c r="{ref}"{_no_type(m.group(1))}><f>SUM(1,2)</f></c>', text, count=1,
                                  flags=re.S)
                data = text.encode("utf-8")
            dst.writestr(item, data)
    shutil.move(str(tmp), path)


def _no_type(attrs: str) -> str:
    return re.sub(r'\s+t="[^"]*"', "", attrs)
