"""A manifest.json written by an earlier xlform (indented JSON, as 4727bad's generate wrote it) is still
read: a bureau generates in spring and validates in autumn, possibly after upgrading xlform."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict

from xlform.consolidate import consolidate
from xlform.manifest import Manifest
from xlform.manifest_index import ManifestIndex
from xlform.validate import validate


def _old_format(sample_set, path):
    """The manifest as the indented writer wrote it: json.dump(indent=1) of asdict entries."""
    data = {k: sample_set.manifest[k] for k in ("manifest_version", "xlform", "created", "year")}
    data["files"] = [asdict(e) for e in Manifest.load(sample_set.result.manifest_path).entries]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    assert path.read_text(encoding="utf-8").startswith('{\n "manifest_version": 1,')
    return path


def test_old_indented_manifest_reads_validates_and_consolidates_alike(sample_set, tmp_path):
    new = sample_set.result.manifest_path
    old = _old_format(sample_set, tmp_path / "manifest.json")
    whole = [e.__dict__ for e in Manifest.load(new).entries]
    assert [e.__dict__ for e in Manifest.load(old).entries] == whole
    for chunk in (97, 1 << 20):   # entries cut across chunk ends too
        index = ManifestIndex.build(old, tmp_path / f"old{chunk}.manifest.sqlite", chunk=chunk)
        assert [e.__dict__ for e in index.entries] == whole
        assert index.by_code()[whole[0]["project_code"]].__dict__ == whole[0]
        index.close()

    folder = tmp_path / "回收"
    folder.mkdir()
    for path in sample_set.by_code.values():
        shutil.copy(path, folder / path.name)
    files = sorted(folder.glob("*.xlsx"))

    def findings(manifest):
        report = validate(files, manifest, tmp_path / f"v-{manifest.parent.name}", jobs=1)
        return [(f.path, f.project_code, sorted((x.code, str(x.cell)) for x in f.findings)) for f in report.files]

    assert findings(old) == findings(new)
    assert not any(code.startswith("XF1") or code.startswith("XF2")
                   for _, _, fs in findings(old) for code, _ in fs)

    a = consolidate([folder], old, tmp_path / "old汇总.xlsx", jobs=1)
    b = consolidate([folder], new, tmp_path / "new汇总.xlsx", jobs=1)
    assert a.matched_files == b.matched_files == len(files)
    assert (a.status, a.grades, a.findings) == (b.status, b.grades, b.findings)
