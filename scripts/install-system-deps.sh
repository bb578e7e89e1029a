#!/usr/bin/env bash
# Install the system packages the tests need (LibreOffice Calc + python3-uno, poppler's
# pdftoppm/pdftotext, CJK fonts for PDF rendering).  Idempotent: does nothing when they
# are all present.  Without root it only explains what is missing and exits 0; the
# LibreOffice tests then skip, or fail when XLFORM_REQUIRE_LIBREOFFICE=1.
set -euo pipefail

PACKAGES=(libreoffice-calc-nogui python3-uno poppler-utils fonts-noto-cjk)

missing=()
command -v soffice >/dev/null 2>&1 || missing+=("soffice")
/usr/bin/python3 -c 'import uno' >/dev/null 2>&1 || missing+=("python3-uno (/usr/bin/python3 -c 'import uno')")
command -v pdftoppm >/dev/null 2>&1 || missing+=("pdftoppm")
# Chinese text in PDFs renders as boxes without a CJK font
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh family 2>/dev/null | head -n 1)" ]; then
    missing+=("CJK font (fonts-noto-cjk)")
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-deps: LibreOffice, python3-uno, poppler-utils and CJK fonts already present; nothing to do."
    exit 0
fi

echo "install-system-deps: missing: ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
    cat <<MSG
install-system-deps: 未以 root 身份运行，无法安装系统依赖。请执行：
    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}
缺少 LibreOffice 时相关测试会被跳过（设置 XLFORM_REQUIRE_LIBREOFFICE=1 时则判为失败）。
install-system-deps: not running as root, so system packages were not installed. Run:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}
Without LibreOffice its tests are skipped (or fail when XLFORM_REQUIRE_LIBREOFFICE=1).
MSG
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: apt-get not found; install ${PACKAGES[*]} by hand." >&2
    exit 1
fi

echo "install-system-deps: apt-get update"
apt-get update -q
echo "install-system-deps: apt-get install ${PACKAGES[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# verify
command -v soffice >/dev/null
/usr/bin/python3 -c 'import uno'
command -v pdftoppm >/dev/null
echo "install-system-deps: installed ${PACKAGES[*]} ($(soffice --version 2>/dev/null | head -n 1))"
