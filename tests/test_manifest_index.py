"""manifest_index.Building: the manifest streamed into its index by a child process while the index is
already being used, answering as ManifestIndex.build's index does, and never leaving a lookup waiting
for a child that failed or died."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from xlform.errors import XlformError
from xlform.generate import generate
from xlform.manifest import Manifest
from xlform import manifest_index
from xlform.manifest_index import Building, ManifestIndex, can_build_in_background

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not can_build_in_background(), reason="Building needs fork and POSIX locks")

BAD = ['{"manifest_version": 2, "files": []}', '{"manifest_version": 1}', '{"manifest_version": 1, "files": [1]}',
       '{"manifest_version": 1, "files": [', '{"manifest_version": 1, "files": [{"project_code": "1"}]}', '']


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("issued")
    return generate(REPO / "sample_workbooks" / "projects.xlsx", out, jobs=1).manifest_path


def _code(e):
    return (e.project_code, e.department) if e.project_code else None


def test_lookups_while_the_child_reads_answer_as_build(manifest, tmp_path):
    full = Manifest.load(manifest)
    building = Building(manifest, tmp_path / "m.manifest.sqlite", _code, chunk=97)
    index = ManifestIndex(building.path)            # in use at once, as a worker opens it
    for e in reversed(full.entries):                # the last ones first: waited for
        assert index.by_code().get(e.project_code) == e
    assert index.by_code().get("不在清单中") is None and "不在清单中" not in index.by_code()
    done = building.wait()
    built = ManifestIndex.build(manifest, tmp_path / "b.manifest.sqlite")
    assert list(index.entries) == list(built.entries) == full.entries
    assert (done.created, done.year, done.listed_twice) == (built.created, built.year, 0)
    assert done.summaries() == [(e.project_code, e.department) for e in full.entries if e.project_code]
    for i in (index, done, built):
        i.close()


def test_a_broken_manifest_is_reported_as_build_reports_it(tmp_path):
    for n, text in enumerate(BAD):
        bad = tmp_path / f"bad{n}.json"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(XlformError) as sync:
            ManifestIndex.build(bad, tmp_path / f"s{n}.manifest.sqlite")
        building = Building(bad, tmp_path / f"b{n}.manifest.sqlite", _code)
        index = ManifestIndex(building.path)
        with pytest.raises(XlformError) as looked_up:     # a worker's lookup meanwhile: not left waiting
            index.by_code().get("1")
        with pytest.raises(XlformError) as waited:
            building.wait()
        assert str(waited.value) == str(looked_up.value) == str(sync.value)
        index.close()
    with pytest.raises(XlformError, match="找不到 manifest 文件"):
        Building(tmp_path / "missing.json", tmp_path / "missing.manifest.sqlite", _code).wait()


def test_a_child_that_dies_fails_the_lookups_instead_of_hanging(manifest, tmp_path, monkeypatch):
    # the (forked) child blocks reading the manifest, as on a hung network drive, until it is killed
    monkeypatch.setattr(manifest_index, "stream_manifest", lambda *args: time.sleep(3600))
    building = Building(manifest, tmp_path / "m.manifest.sqlite", _code)
    index = ManifestIndex(building.path)
    time.sleep(0.2)
    building.process.kill()
    started = time.monotonic()
    with pytest.raises(XlformError, match="意外退出"):
        index.by_code().get("123")
    with pytest.raises(XlformError, match="意外退出"):
        building.wait()
    assert time.monotonic() - started < 5
    index.close()


def test_a_code_listed_twice_is_counted(manifest, tmp_path):
    data = json.loads(manifest.read_text(encoding="utf-8"))
    again = {**data["files"][0], "project_name": "后来的名称"}
    data["files"].append(again)
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    index = Building(twice, tmp_path / "t.manifest.sqlite", _code).wait()
    assert index.listed_twice == 1
    assert index.by_code().get(again["project_code"]).project_name == "后来的名称"     # the later one counts
    index.close()
