"""The LibreOffice test driver really edits workbooks like a person using Calc would.

Three soffice runs in all (~3 s each): one xlsx edit job, one ods edit job with
unprotect, one PDF conversion.  Skipped without LibreOffice, unless
XLFORM_REQUIRE_LIBREOFFICE=1 (CI), where it fails instead.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import openpyxl
import pytest
import xlsxwriter

try:
    from tests.support.libreoffice import libreoffice_marks, lo_convert, lo_edit
except ImportError:  # tests/ itself on sys.path (pytest rootdir-relative imports)
    from support.libreoffice import libreoffice_marks, lo_convert, lo_edit

pytestmark = libreoffice_marks

SHEET = "自评表"
PASSWORD = "secret"
LOCKED_TEXT = "锁定文本 XLFORM-PDF-MARK"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    """Protected sheet: B2 unlocked (defined name test_input), A1 locked text."""
    path = tmp_path_factory.mktemp("lo") / "form.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(SHEET)
    ws.write("A1", LOCKED_TEXT)
    ws.write_blank("B2", None, wb.add_format({"locked": False}))
    ws.write_formula("C2", "=B2*2", None, 0)
    wb.define_name("test_input", f"='{SHEET}'!$B$2")
    ws.protect(PASSWORD)
    wb.close()
    return path


@pytest.fixture(scope="module")
def xlsx_job(workbook):
    out = workbook.parent / "typed.xlsx"
    report = lo_edit(workbook, out, [
        {"name": "test_input", "value": "95%", "how": "type"},
        {"sheet": SHEET, "cell": "A1", "value": "changed", "how": "type"},
    ])
    return out, report


def test_typing_percent_into_named_cell_gives_number_with_percent_format(xlsx_job):
    out, report = xlsx_job
    assert report["ok"] is True
    typed = report["edits"][0]
    assert (typed["sheet"], typed["cell"], typed["applied"]) == (SHEET, "B2", True)
    assert typed["result"]["type"] == "VALUE"
    assert typed["result"]["value"] == pytest.approx(0.95)

    ws = openpyxl.load_workbook(out)[SHEET]
    assert ws["B2"].value == pytest.approx(0.95)
    assert isinstance(ws["B2"].value, float)
    assert "%" in ws["B2"].number_format
    # LibreOffice recalculated the dependent formula and kept the protection
    cached = openpyxl.load_workbook(out, data_only=True)[SHEET]
    assert cached["C2"].value == pytest.approx(1.9)
    assert ws.protection.sheet is True
    assert ws["B2"].protection.locked is False


def test_locked_cell_is_refused_without_unprotect(xlsx_job):
    out, report = xlsx_job
    refused = report["edits"][1]
    assert refused["cell"] == "A1"
    assert refused["error"] == "protected"
    assert refused["applied"] is False
    assert openpyxl.load_workbook(out)[SHEET]["A1"].value == LOCKED_TEXT


def test_unprotect_then_edit_locked_cell_and_save_as_ods(workbook):
    out = workbook.parent / "unprotected.ods"
    report = lo_edit(workbook, out,
                     [{"sheet": SHEET, "cell": "A1", "value": "changed", "how": "type"}],
                     unprotect=True, password=PASSWORD, fmt="ods")
    assert report["edits"][0]["applied"] is True
    assert report["edits"][0]["result"]["string"] == "changed"
    assert report["unprotected_sheets"] == [SHEET]
    with zipfile.ZipFile(out) as z:
        assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        content = z.read("content.xml").decode("utf-8")
    assert "changed" in content
    assert "XLFORM-PDF-MARK" not in content


def test_convert_to_pdf(xlsx_job, tmp_path):
    out, _ = xlsx_job  # also proves LibreOffice reopens its own xlsx
    pdf = lo_convert(out, tmp_path, fmt="pdf")
    assert pdf == tmp_path / "typed.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1000
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "XLFORM-PDF-MARK" in text
        assert "95" in text
