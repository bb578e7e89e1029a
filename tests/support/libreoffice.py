"""LibreOffice Calc helpers for the tests (runs under the normal test interpreter).

``import uno`` only works in Debian's ``/usr/bin/python3``, so edits go through
``lo_driver.py`` run with that interpreter in a subprocess.  Every soffice gets its own
profile dir (``$TMPDIR/xlform-lo-*``) and is killed and cleaned up whatever happens.

Usage::

    from tests.support.libreoffice import lo_edit, lo_convert, requires_libreoffice

    @requires_libreoffice
    def test_x(tmp_path):
        report = lo_edit(src, tmp_path / "out.xlsx",
                         [{"name": "ind_03_actual", "value": "95%", "how": "type"}])

Environment:
    XLFORM_REQUIRE_LIBREOFFICE=1  a missing LibreOffice FAILS the tests instead of skipping
                                  them (scripts/test.sh sets it when run as root, i.e. CI).
    XLFORM_LO_PYTHON              interpreter with ``uno`` (default /usr/bin/python3).
    XLFORM_SOFFICE                soffice executable (default: ``soffice`` on PATH).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

__all__ = [
    "DRIVER",
    "LibreOfficeMissing",
    "have_libreoffice",
    "libreoffice_required",
    "libreoffice_marks",
    "lo_convert",
    "lo_edit",
    "missing_reason",
    "require_libreoffice",
    "requires_libreoffice",
]

DRIVER = Path(__file__).with_name("lo_driver.py")
LO_PYTHON = os.environ.get("XLFORM_LO_PYTHON", "/usr/bin/python3")

# soffice --convert-to targets ("ext:FilterName")
_CONVERT_TARGETS = {
    "pdf": "pdf:calc_pdf_Export",
    "xlsx": "xlsx:Calc Office Open XML",
    "ods": "ods:calc8",
    "xls": "xls:MS Excel 97",
    "csv": "csv:Text - txt - csv (StarCalc)",
}


class LibreOfficeMissing(RuntimeError):
    """LibreOffice (soffice + python3-uno) is not installed."""


def _soffice() -> str | None:
    return shutil.which(os.environ.get("XLFORM_SOFFICE") or "soffice")


@functools.lru_cache(maxsize=None)
def missing_reason() -> str | None:
    """None when LibreOffice is usable, else why not (cached)."""
    if not _soffice():
        return f"{os.environ.get('XLFORM_SOFFICE') or 'soffice'} not found on PATH"
    if not os.path.exists(LO_PYTHON):
        return f"{LO_PYTHON} not found (python3-uno needs Debian's python3)"
    try:
        r = subprocess.run([LO_PYTHON, "-c", "import uno"], capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{LO_PYTHON} -c 'import uno' failed: {e}"
    if r.returncode != 0:
        return f"{LO_PYTHON} -c 'import uno' failed: {r.stderr.strip()[-300:]}"
    return None


def have_libreoffice() -> bool:
    """soffice on PATH and ``/usr/bin/python3 -c 'import uno'`` works (cached)."""
    return missing_reason() is None


def libreoffice_required() -> bool:
    """XLFORM_REQUIRE_LIBREOFFICE=1: a missing LibreOffice is a failure, not a skip."""
    return os.environ.get("XLFORM_REQUIRE_LIBREOFFICE", "").strip().lower() in (
        "1", "true", "yes", "on")


def _missing_message() -> str:
    return (f"LibreOffice is needed but unusable: {missing_reason()}. "
            f"Install it with `sudo bash scripts/install-system-deps.sh` "
            f"(需要 LibreOffice：请运行 scripts/install-system-deps.sh)")


def require_libreoffice() -> None:
    """Inside a test/fixture: skip if LibreOffice is missing, or fail when it's required."""
    if have_libreoffice():
        return
    if libreoffice_required():
        pytest.fail(_missing_message() + " [XLFORM_REQUIRE_LIBREOFFICE=1]", pytrace=False)
    pytest.skip(_missing_message())


def _ensure_available() -> None:
    if not have_libreoffice():
        raise LibreOfficeMissing(_missing_message())


# Skip when LibreOffice is missing -- unless XLFORM_REQUIRE_LIBREOFFICE=1, where the test
# runs and fails loudly in lo_edit()/lo_convert() (LibreOfficeMissing).
requires_libreoffice = pytest.mark.skipif(
    not have_libreoffice() and not libreoffice_required(),
    reason=f"LibreOffice not available ({missing_reason()}); "
           f"set XLFORM_REQUIRE_LIBREOFFICE=1 to make this a failure",
)
# For a whole module: ``pytestmark = libreoffice_marks`` (adds the registered
# ``libreoffice`` marker too, so ``-m "not libreoffice"`` deselects these tests).
libreoffice_marks = [pytest.mark.libreoffice, requires_libreoffice]


# --------------------------------------------------------------------------- processes


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.5)


def _cleanup_after_driver(state_file: Path) -> None:
    """The driver died without cleaning up (e.g. SIGKILL): kill its soffice, drop profile."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return
    pgid = state.get("soffice_pgid")
    if isinstance(pgid, int) and pgid > 1:
        _kill_group(pgid)
    profile = state.get("profile")
    if profile and Path(profile).name.startswith("xlform-lo-"):
        shutil.rmtree(profile, ignore_errors=True)
        try:
            os.unlink(profile + ".log")
        except OSError:
            pass


def _run_driver(job_path: Path, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([LO_PYTHON, str(DRIVER), str(job_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # the driver enforces `timeout` itself; this is the backstop if the driver hangs
        out, err = proc.communicate(timeout=timeout + 30)
    except BaseException:  # timeout, KeyboardInterrupt, ...
        proc.terminate()  # driver's SIGTERM handler kills soffice and removes the profile
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def lo_edit(src, dst, edits, *, unprotect: bool = False, password: str | None = None,
            fmt: str = "xlsx", timeout: float = 120) -> dict:
    """Open ``src`` in LibreOffice Calc, apply ``edits``, save as ``fmt`` to ``dst``.

    ``edits``: list of ``{"sheet": ..., "cell": "F12" | "name": <defined name>,
    "value": ..., "how": "type" | "number" | "formula" | "date" | "paste"}`` (see
    lo_driver.py for what each ``how`` does).  ``fmt``: "xlsx", "ods", "pdf" or "xls".
    ``unprotect``/``password``: unprotect edited sheets first; otherwise edits of locked
    cells on protected sheets are refused like in the UI.

    Returns the driver's report::

        {"ok": True, "elapsed": 2.6, "unprotected_sheets": [...],
         "edits": [{"index": 0, "sheet": "自评表", "cell": "F12", "how": "type",
                    "applied": True,
                    "result": {"type": "VALUE", "value": 0.95, "string": "95.00%",
                               "number_format": "0.00%", "number_format_type": 128}},
                   {"index": 1, ..., "applied": False, "error": "protected", "result": {...}}]}

    Raises ``RuntimeError`` (message includes the driver's stderr) when the job fails, and
    ``LibreOfficeMissing`` (a RuntimeError) when LibreOffice isn't installed.
    """
    _ensure_available()
    src, dst = Path(src).resolve(), Path(dst).resolve()
    if not src.is_file():
        raise FileNotFoundError(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xlform-lojob-") as tmp:
        tmp = Path(tmp)
        job = {
            "input": str(src), "output": str(dst), "format": fmt,
            "edits": list(edits), "unprotect": bool(unprotect),
            "unprotect_password": password, "report": str(tmp / "report.json"),
            "timeout": timeout, "state_file": str(tmp / "state.json"),
        }
        job_path = tmp / "job.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False, default=str),
                            encoding="utf-8")
        try:
            r = _run_driver(job_path, timeout)
        finally:
            if (tmp / "state.json").exists():  # driver couldn't clean up after itself
                _cleanup_after_driver(tmp / "state.json")
        report = None
        if (tmp / "report.json").exists():
            try:
                report = json.loads((tmp / "report.json").read_text(encoding="utf-8"))
            except ValueError:
                report = None
        if r.returncode != 0 or not report or not report.get("ok"):
            why = (report or {}).get("error") or "no report written"
            raise RuntimeError(
                f"LibreOffice driver failed (exit {r.returncode}): {why}\n"
                f"--- driver stderr ---\n{r.stderr.strip()}")
        if not dst.is_file() or dst.stat().st_size == 0:
            raise RuntimeError(f"LibreOffice reported success but wrote no {dst}\n{r.stderr}")
        return report


def lo_convert(src, outdir, fmt: str = "pdf", timeout: float = 120) -> Path:
    """``soffice --headless --convert-to FMT`` with a private profile; returns the new file.

    ``fmt``: "pdf", "xlsx", "ods", "xls", "csv", or any "ext:Filter Name" target.
    """
    _ensure_available()
    src = Path(src).resolve()
    if not src.is_file():
        raise FileNotFoundError(src)
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    target = _CONVERT_TARGETS.get(fmt, fmt)
    ext = target.split(":", 1)[0]
    out = outdir / f"{src.stem}.{ext}"
    if out.exists():
        out.unlink()
    profile = Path(tempfile.mkdtemp(prefix="xlform-lo-"))
    # convert a private copy: soffice leaves ".~lock.<name>#" next to what it opens, which
    # would collide with parallel jobs on the same file
    (profile / "xlform-input").mkdir()
    src_copy = profile / "xlform-input" / src.name
    shutil.copyfile(src, src_copy)
    cmd = [_soffice(), "--headless", "--invisible", "--nologo", "--norestore",
           "--nodefault", "--nolockcheck", "--nofirststartwizard",
           f"-env:UserInstallation={profile.as_uri()}",
           "--convert-to", target, "--outdir", str(outdir), str(src_copy)]
    env = dict(os.environ)
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # own group: killpg gets soffice.bin too
    try:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"soffice --convert-to {target} timed out after {timeout}s")
    finally:
        if proc.poll() is None:  # timed out or interrupted
            _kill_group(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers left in the group, if any
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"soffice --convert-to {target} failed (exit {proc.returncode}), "
                           f"no {out}:\n{output}")
    return out
