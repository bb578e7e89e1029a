#!/usr/bin/python3
"""Drive LibreOffice Calc over UNO to edit / convert a workbook like a person would.

Run with Debian's interpreter (the only one where ``import uno`` works)::

    /usr/bin/python3 tests/support/lo_driver.py JOB.json

Stdlib + ``uno`` only.  JOB.json::

    {"input": "/abs/in.xlsx", "output": "/abs/out.xlsx",
     "format": "xlsx" | "ods" | "pdf" | "xls",
     "edits": [
        {"sheet": "自评表", "cell": "F12", "value": "20套", "how": "type"},
        {"name": "ind_03_actual", "value": 0.95, "how": "number"},
        {"sheet": "...", "cell": "...", "value": "=1+1", "how": "formula"},
        {"sheet": "...", "cell": "...", "value": "2021-12-31", "how": "date"},
        {"sheet": "...", "cell": "...", "value": "abc", "how": "paste"},
        {"sheet": "...", "row": 20, "count": 2, "how": "insert_rows"},
        {"sheet": "...", "row": 20, "count": 1, "how": "delete_rows"}],
     "unprotect": false, "unprotect_password": null,
     "report": "/abs/report.json",
     # optional:
     "timeout": 120,            # seconds for the whole job (soffice is killed after it)
     "state_file": "/abs/x",    # driver writes {"soffice_pgid", "profile"} here, so a
                                #   caller that had to SIGKILL the driver can clean up
     "recalc": true,            # doc.calculateAll() before storing (default true)
     "open_password": null}     # password of an encrypted input file

What each ``how`` does (UNO has no "keyboard"; these are the closest equivalents):

* ``type``    -- ``cell.FormulaLocal = str(value)``: the cell's "local formula" property runs
  the same parser as the input line (ScDocFunc::SetCellText -> ScColumn::ParseString):
  "95%" becomes 0.95 AND gets the percent format "0.00%", "2021-12-31" becomes a date
  with format "YYYY-MM-DD", "20套" stays text, "=..." is a formula in UI syntax
  (en-US: "," or ";" separators, Calc refs like $Sheet.A1).  As in the UI, the detected
  format is only applied when the cell's format is a default one (General): a cell
  formatted "0.00" keeps it.  soffice runs with LC_ALL=C.UTF-8, i.e. en-US input rules:
  "1/2" is January 2 of this year, "1,234.5" is 1234.5, "¥100" stays text.  Non-strings
  are typed as str(value) (booleans as TRUE/FALSE, which become booleans).
  (``cell.setFormula`` was NOT used: it computes the number but leaves the format at
  General, and its API grammar only accepts ";" separators.)  Data validation is NOT
  checked: LibreOffice validates only input through the UI's edit line.
* ``number``  -- ``cell.setValue(float(value))``; the number format is left alone.
* ``formula`` -- a formula in Excel/OOXML syntax, i.e. as openpyxl shows it ("," separators,
  'Sheet'!A1 refs, _xlfn. prefixes; leading "=" optional), parsed with
  com.sun.star.sheet.FormulaParser (OOXML op-code map, XL_OOX refs) and set with
  ``cell.setTokens``.  (Plain ``cell.setFormula`` wants ";" separators: "=SUM(A1,A2)"
  gives Err:508.)
* ``date``    -- value "YYYY-MM-DD" (or "YYYY-MM-DDTHH:MM[:SS]"): the serial number relative
  to the document's NullDate via ``setValue``, plus number format "YYYY-MM-DD"
  (or "YYYY-MM-DD HH:MM:SS").
* ``paste``   -- raw content, bypassing input interpretation and validation like a clipboard
  paste of cell contents: ``setString`` for text (so "95%" stays the text "95%"),
  ``setValue`` for int/float.  The cell's number format is kept (bare ``setString`` would
  switch it to Text "@").  This is the closest UNO equivalent; data validation in
  LibreOffice only fires on UI input anyway, so ``type`` skips it too.
* ``insert_rows`` / ``delete_rows`` -- no ``cell``/``value``: ``row`` (1-based; inserted rows go
  above it) and ``count``, via ``sheet.getRows().insertByIndex/removeByIndex`` (like Insert >
  Rows Above / Delete Rows: defined names, merges and formulas move).  Refused as
  ``"protected"`` on a protected sheet unless ``unprotect``.

An edit addresses a cell by ``sheet`` + ``cell`` (A1; ``sheet`` omitted = first sheet) or by
``name``: a workbook-level defined name (document.NamedRanges), else a sheet-scoped one; a
multi-cell name means its top-left cell.

Protection: when a sheet is protected (``sheet.isProtected()``) and ``unprotect`` is false,
an edit of a cell whose ``CellProtection.IsLocked`` is true is refused the way the UI refuses
it: recorded as ``{"cell": ..., "error": "protected"}`` and skipped (the UNO API itself would
happily write into a locked cell).  Unlocked cells are edited normally.  With ``unprotect``
true each protected sheet that is edited is unprotected first with
``sheet.unprotect(unprotect_password)``, falling back to ``sheet.unprotect("")`` (a sheet
protected without password rejects any other string); it stays unprotected in the output.

Exit status: 0 when the job ran (refused "protected" edits still count as a run; read the
report), 1 on a LibreOffice / job error, 2 on a bad job file, 3 on timeout,
4 when terminated by a signal.  The report always gets written when possible:
``{"ok": true, "edits": [...], "elapsed": s, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

FILTERS = {
    "xlsx": "Calc Office Open XML",
    "ods": "calc8",
    "pdf": "calc_pdf_Export",
    "xls": "MS Excel 97",
}
HOWS = ("type", "number", "formula", "date", "paste")
ROW_HOWS = ("insert_rows", "delete_rows")

CONNECT_TIMEOUT = 60.0


class JobError(Exception):
    """Bad job description (exit 2)."""


class Terminated(BaseException):
    """The driver got SIGTERM/SIGINT/SIGHUP."""


def log(msg: str) -> None:
    print(f"lo_driver: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- soffice


class Office:
    """One private soffice process: own profile dir, own pipe, own process group."""

    def __init__(self, state_file: str | None = None) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="xlform-lo-"))
        self.pipe = "xlform_" + uuid.uuid4().hex[:20]
        self.proc: subprocess.Popen | None = None
        self.state_file = state_file
        self.soffice = os.environ.get("XLFORM_SOFFICE") or shutil.which("soffice") or "soffice"
        self._log = open(self.profile.parent / (self.profile.name + ".log"), "w+b")

    def start(self) -> None:
        cmd = [
            self.soffice,
            "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
            "--nolockcheck", "--nofirststartwizard",
            "-env:UserInstallation=" + self.profile.as_uri(),
            f"--accept=pipe,name={self.pipe};urp;StarOffice.ComponentContext",
        ]
        env = dict(os.environ)
        env.setdefault("SAL_USE_VCLPLUGIN", "svp")
        # Deterministic input parsing for how="type" (FormulaLocal uses the UI locale):
        # "C" maps to en-US in LibreOffice.  UTF-8 keeps non-ASCII file names working.
        env["LC_ALL"] = "C.UTF-8"
        # Own session/process group: soffice is a shell script -> oosplash -> soffice.bin,
        # and killpg() on this group gets all of them.
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )
        if self.state_file:
            tmp = self.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"soffice_pgid": self.proc.pid, "profile": str(self.profile),
                           "driver_pid": os.getpid()}, f)
            os.replace(tmp, self.state_file)

    def output_tail(self, n: int = 2000) -> str:
        try:
            self._log.flush()
            self._log.seek(0)
            return self._log.read().decode("utf-8", "replace")[-n:]
        except Exception:
            return ""

    def connect(self, timeout: float = CONNECT_TIMEOUT):
        import uno  # noqa: WPS433  (only importable under Debian's python3)
        from com.sun.star.connection import NoConnectException  # type: ignore

        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local)
        url = f"uno:pipe,name={self.pipe};urp;StarOffice.ComponentContext"
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                # oosplash may exit early if soffice.bin failed; give the pipe one more try
                try:
                    return resolver.resolve(url)
                except Exception:
                    raise RuntimeError(
                        f"soffice exited with code {self.proc.returncode} before accepting "
                        f"the connection; output:\n{self.output_tail()}")
            try:
                return resolver.resolve(url)
            except NoConnectException as e:  # not up yet
                last = e
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not connect to soffice within {timeout:.0f}s: {last}")
            time.sleep(0.1)

    def kill(self) -> None:
        """Kill the whole soffice process group (idempotent)."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            except PermissionError:
                break
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                continue
            # leader gone; children (soffice.bin) may still be in the group
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass

    def wait_exit(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def cleanup(self) -> None:
        self.kill()
        try:
            self._log.close()
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)
        try:
            os.unlink(self.profile.parent / (self.profile.name + ".log"))
        except OSError:
            pass
        if self.state_file:
            try:
                os.unlink(self.state_file)
            except OSError:
                pass


# --------------------------------------------------------------------------- uno helpers


def _props(**kw):
    from com.sun.star.beans import PropertyValue  # type: ignore

    out = []
    for k, v in kw.items():
        p = PropertyValue()
        p.Name = k
        p.Value = v
        out.append(p)
    return tuple(out)


def _col_letters(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def _a1(addr) -> str:
    return f"{_col_letters(addr.Column)}{addr.Row + 1}"


def _resolve_target(doc, edit: dict, idx: int):
    """Return (sheet, cell, sheet_name, a1) for one edit."""
    sheets = doc.Sheets
    if "name" in edit and edit["name"] is not None:
        name = str(edit["name"])
        rng = None
        if doc.NamedRanges.hasByName(name):
            rng = doc.NamedRanges.getByName(name).getReferredCells()
        else:
            # sheet-scoped names (Excel "local" names) live in each sheet's NamedRanges
            for i in range(sheets.Count):
                sh = sheets.getByIndex(i)
                local = getattr(sh, "NamedRanges", None)
                if local is not None and local.hasByName(name):
                    rng = local.getByName(name).getReferredCells()
                    break
            else:
                raise JobError(f"edit #{idx}: no named range {name!r} in the workbook")
        if rng is None:
            raise JobError(f"edit #{idx}: named range {name!r} does not refer to cells")
        cell = rng.getCellByPosition(0, 0)
        addr = cell.getCellAddress()
        sheet = sheets.getByIndex(addr.Sheet)
        return sheet, cell, sheet.getName(), _a1(addr)

    if "cell" not in edit:
        raise JobError(f"edit #{idx}: needs either 'name' or 'cell' (+ 'sheet')")
    sheet_name = edit.get("sheet")
    if sheet_name is None:
        sheet = sheets.getByIndex(0)
    else:
        if not sheets.hasByName(str(sheet_name)):
            raise JobError(f"edit #{idx}: no sheet {sheet_name!r} "
                           f"(sheets: {list(sheets.getElementNames())})")
        sheet = sheets.getByName(str(sheet_name))
    ref = str(edit["cell"]).replace("$", "").upper()
    if not re.fullmatch(r"[A-Z]{1,3}[0-9]{1,7}", ref):
        raise JobError(f"edit #{idx}: bad cell reference {edit['cell']!r}")
    cell = sheet.getCellRangeByName(ref)
    return sheet, cell, sheet.getName(), ref


def _parse_date(value) -> tuple[_dt.datetime, bool]:
    if isinstance(value, (int, float)):
        raise JobError("'date' wants an ISO string, use how='number' for serials")
    s = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return _dt.datetime.strptime(s, "%Y-%m-%d"), False
        return _dt.datetime.fromisoformat(s.replace(" ", "T")), True
    except ValueError as e:
        raise JobError(f"bad date {value!r}: {e}") from None


def _format_key(doc, code: str) -> int:
    from com.sun.star.lang import Locale  # type: ignore

    fmts = doc.NumberFormats
    loc = Locale()  # empty locale = system/default
    key = fmts.queryKey(code, loc, False)
    if key == -1:
        key = fmts.addNew(code, loc)
    return key


def _cell_type(cell) -> str:
    return cell.getType().value  # EMPTY / VALUE / TEXT / FORMULA


def _read_back(doc, cell) -> dict:
    fmt_key = cell.NumberFormat
    try:
        fmt = doc.NumberFormats.getByKey(fmt_key)
        fmt_code, fmt_type = fmt.FormatString, fmt.Type
    except Exception:
        fmt_code, fmt_type = None, None
    t = _cell_type(cell)
    out = {"type": t, "string": cell.getString(), "number_format": fmt_code,
           "number_format_type": fmt_type}
    if t in ("VALUE", "FORMULA"):
        out["value"] = cell.getValue()
    if t == "FORMULA":
        out["formula"] = cell.getFormula()
        out["error"] = cell.getError()
    return out


def _set_excel_formula(doc, cell, formula: str) -> None:
    """Set a formula written in Excel/OOXML syntax (as in the xlsx file / openpyxl)."""
    import uno

    if not formula.startswith("="):
        formula = "=" + formula
    parser = doc.createInstance("com.sun.star.sheet.FormulaParser")
    mapper = doc.createInstance("com.sun.star.sheet.FormulaOpCodeMapper")
    parser.OpCodeMap = mapper.getAvailableMappings(
        uno.getConstantByName("com.sun.star.sheet.FormulaLanguage.OOXML"),
        uno.getConstantByName("com.sun.star.sheet.FormulaMapGroup.ALL_EXCEPT_SPECIAL"))
    parser.FormulaConvention = uno.getConstantByName(
        "com.sun.star.sheet.AddressConvention.XL_OOX")
    parser.CompileEnglish = True
    cell.setTokens(parser.parseFormula(formula, cell.getCellAddress()))


def _unprotect(sheet, sheet_name: str, idx: int, password: str, unprotected: list[str]) -> None:
    # A sheet protected without a password only accepts "" (observed: it raises
    # IllegalArgumentException for any other string), so try both.
    for candidate in dict.fromkeys([password, ""]):
        try:
            sheet.unprotect(candidate)
        except Exception:
            continue
        if not sheet.isProtected():
            break
    if sheet.isProtected():
        raise RuntimeError(
            f"edit #{idx}: could not unprotect sheet {sheet_name!r}: wrong password "
            f"(tried {'the given password and ' if password else ''}an empty one)")
    unprotected.append(sheet_name)


def _apply_rows(doc, edit: dict, idx: int, unprotect: bool, password: str,
                unprotected: list[str]) -> dict:
    """insert_rows / delete_rows: like Insert > Rows Above / Delete Rows in the UI.

    ``row`` is the 1-based row number (new rows go above it; deleted rows start at it),
    ``count`` how many (default 1).  Defined names, merged ranges and formulas move with the
    cells, as in the UI.  A protected sheet refuses it (the templates do not allow inserting
    or deleting rows) unless the job has ``unprotect``.
    """
    how = edit["how"]
    sheets = doc.Sheets
    sheet_name = edit.get("sheet")
    if sheet_name is None:
        sheet = sheets.getByIndex(0)
    elif sheets.hasByName(str(sheet_name)):
        sheet = sheets.getByName(str(sheet_name))
    else:
        raise JobError(f"edit #{idx}: no sheet {sheet_name!r} (sheets: {list(sheets.getElementNames())})")
    try:
        row = int(edit["row"])
        count = int(edit.get("count", 1))
    except (KeyError, TypeError, ValueError):
        raise JobError(f"edit #{idx}: {how} needs an integer 'row' (1-based) and optional 'count'") from None
    if row < 1 or count < 1:
        raise JobError(f"edit #{idx}: {how} needs row >= 1 and count >= 1")
    name = sheet.getName()
    rec = {"index": idx, "sheet": name, "how": how, "row": row, "count": count}
    if sheet.isProtected():
        if not unprotect:
            rec.update(applied=False, error="protected")
            return rec
        _unprotect(sheet, name, idx, password, unprotected)
    rows = sheet.getRows()
    if how == "insert_rows":
        rows.insertByIndex(row - 1, count)
    else:
        rows.removeByIndex(row - 1, count)
    rec["applied"] = True
    return rec


def _apply_edit(doc, edit: dict, idx: int, unprotect: bool, password: str,
                unprotected: list[str]) -> dict:
    how = edit.get("how", "type")
    if how in ROW_HOWS:
        return _apply_rows(doc, edit, idx, unprotect, password, unprotected)
    if how not in HOWS:
        raise JobError(f"edit #{idx}: unknown how={how!r} (one of {HOWS})")
    if "value" not in edit:
        raise JobError(f"edit #{idx}: missing 'value'")
    value = edit["value"]
    sheet, cell, sheet_name, a1 = _resolve_target(doc, edit, idx)
    rec = {"index": idx, "sheet": sheet_name, "cell": a1, "how": how}
    if "name" in edit:
        rec["name"] = edit["name"]

    if sheet.isProtected():
        if unprotect:
            _unprotect(sheet, sheet_name, idx, password, unprotected)
        elif cell.CellProtection.IsLocked:
            rec.update(applied=False, error="protected")
            return rec

    if how == "type":
        if isinstance(value, bool):
            text = "TRUE" if value else "FALSE"
        else:
            text = str(value)
        cell.FormulaLocal = text
    elif how == "number":
        try:
            cell.setValue(float(value))
        except (TypeError, ValueError):
            raise JobError(f"edit #{idx}: how=number needs a number, got {value!r}") from None
    elif how == "formula":
        _set_excel_formula(doc, cell, str(value))
    elif how == "date":
        when, has_time = _parse_date(value)
        nd = doc.NullDate
        null = _dt.datetime(nd.Year, nd.Month, nd.Day)
        serial = (when - null).total_seconds() / 86400.0
        cell.setValue(serial)
        cell.NumberFormat = _format_key(doc, "YYYY-MM-DD HH:MM:SS" if has_time else "YYYY-MM-DD")
    elif how == "paste":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cell.setValue(float(value))
        else:
            # setString() also switches the cell to the Text format "@" (ScSetStringParam::
            # setTextInput); a paste of cell contents doesn't, so keep the old format.
            old_key = cell.NumberFormat
            cell.setString("" if value is None else str(value))
            if cell.NumberFormat != old_key:
                cell.NumberFormat = old_key
    rec["applied"] = True
    return rec


def run_job(job: dict, office: Office, report: dict) -> None:
    import uno

    ctx = office.connect()
    smgr = ctx.ServiceManager
    desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    report["t_connected"] = round(time.monotonic() - T0, 3)

    # Open a private copy: LibreOffice writes a ".~lock.<name>#" file next to the document
    # it opens, and a second job on the same file (parallel tests sharing a fixture, or a
    # stale lock after a crash) would then fail to load headless.  The copy lives in the
    # profile dir, so cleanup removes it with the profile.
    private = office.profile / "xlform-input"
    private.mkdir(exist_ok=True)
    src_copy = private / os.path.basename(job["input"])
    shutil.copyfile(job["input"], src_copy)
    in_url = uno.systemPathToFileUrl(str(src_copy))
    out_url = uno.systemPathToFileUrl(os.path.abspath(job["output"]))
    load = dict(Hidden=True, ReadOnly=False, MacroExecutionMode=0, UpdateDocMode=0)
    if job.get("open_password"):
        load["Password"] = str(job["open_password"])
    doc = desktop.loadComponentFromURL(in_url, "_blank", 0, _props(**load))
    if doc is None:
        raise RuntimeError(f"LibreOffice could not open {job['input']} (not a spreadsheet, "
                           f"encrypted without open_password, or corrupt?)")
    report["t_loaded"] = round(time.monotonic() - T0, 3)
    try:
        unprotected: list[str] = []
        results = []
        for i, edit in enumerate(job.get("edits") or []):
            if not isinstance(edit, dict):
                raise JobError(f"edit #{i} is not an object")
            rec = _apply_edit(doc, edit, i, bool(job.get("unprotect")),
                              str(job.get("unprotect_password") or ""), unprotected)
            results.append(rec)
        if job.get("recalc", True):
            doc.calculateAll()
        for rec in results:  # read back after recalculation
            if "cell" not in rec:
                continue
            sheet = doc.Sheets.getByName(rec["sheet"])
            rec["result"] = _read_back(doc, sheet.getCellRangeByName(rec["cell"]))
        report["edits"] = results
        report["unprotected_sheets"] = sorted(set(unprotected))
        fmt = job["format"]
        Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
        doc.storeToURL(out_url, _props(FilterName=FILTERS[fmt], Overwrite=True))
        report["t_stored"] = round(time.monotonic() - T0, 3)
    finally:
        try:
            doc.close(True)
        except Exception:
            try:
                doc.dispose()
            except Exception:
                pass
    try:
        desktop.terminate()
    except Exception:
        pass  # the bridge often drops while terminating; the process wait below decides


def validate_job(job) -> dict:
    if not isinstance(job, dict):
        raise JobError("job must be a JSON object")
    for key in ("input", "output", "format"):
        if not job.get(key):
            raise JobError(f"job needs {key!r}")
    if job["format"] not in FILTERS:
        raise JobError(f"format must be one of {sorted(FILTERS)}, got {job['format']!r}")
    if not os.path.isfile(job["input"]):
        raise JobError(f"input file not found: {job['input']}")
    if not isinstance(job.get("edits") or [], list):
        raise JobError("'edits' must be a list")
    return job


def write_report(path: str | None, report: dict) -> None:
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


T0 = time.monotonic()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: /usr/bin/python3 lo_driver.py JOB.json", file=sys.stderr)
        return 2
    report: dict = {"ok": False}
    report_path = None
    try:
        with open(argv[1], encoding="utf-8") as f:
            job = json.load(f)
        report_path = job.get("report") if isinstance(job, dict) else None
        validate_job(job)
    except (OSError, ValueError, JobError) as e:
        report["error"] = f"bad job: {e}"
        log(report["error"])
        try:
            write_report(report_path, report)
        except OSError:
            pass
        return 2

    timeout = float(job.get("timeout") or 120)

    def on_signal(signum, _frame):
        raise Terminated(signal.Signals(signum).name)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    office = Office(job.get("state_file"))
    rc = 1
    worker_exc: list[BaseException] = []
    worker = None
    try:
        office.start()

        def work():
            try:
                run_job(job, office, report)
            except BaseException as e:  # noqa: BLE001
                worker_exc.append(e)
                report["traceback"] = traceback.format_exc()

        # UNO calls block in C; running them in a worker keeps this thread free to react
        # to signals and to the deadline (by killing soffice, which unblocks the worker).
        worker = threading.Thread(target=work, name="uno-job", daemon=True)
        worker.start()
        deadline = T0 + timeout
        while worker.is_alive():
            worker.join(0.2)
            if time.monotonic() > deadline and worker.is_alive():
                raise TimeoutError(f"job did not finish within {timeout:.0f}s")
        if worker_exc:
            raise worker_exc[0]
        if not office.wait_exit(15):
            log("soffice did not exit after terminate(); killing it")
        report["ok"] = True
        rc = 0
    except TimeoutError as e:
        report["error"] = f"timeout: {e}"
        rc = 3
    except Terminated as e:
        report["error"] = f"terminated by {e}"
        rc = 4
    except JobError as e:
        report["error"] = f"bad job: {e}"
        rc = 2
    except BaseException as e:  # noqa: BLE001
        name = type(e).__name__
        msg = getattr(e, "Message", None) or str(e)
        report["error"] = f"{name}: {msg}"
        rc = 1
    finally:
        office_out = office.output_tail()
        office.cleanup()
        report["elapsed"] = round(time.monotonic() - T0, 3)
        if rc != 0:
            if office_out.strip():
                report["soffice_output"] = office_out
            log(report["error"])
            if "traceback" in report:
                log(report["traceback"])
        try:
            write_report(report_path, report)
        except OSError as e:
            log(f"could not write report {report_path}: {e}")
            rc = rc or 1
    if worker is not None and worker.is_alive():
        # a UNO call is still stuck in C: don't let interpreter shutdown wait for it
        sys.stderr.flush()
        os._exit(rc)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
