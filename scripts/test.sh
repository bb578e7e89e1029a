#!/usr/bin/env bash
# Set up a fresh machine and run the test suite:  bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

if [ ! -x .venv/bin/python ]; then
    echo "test.sh: creating .venv"
    python3 -m venv .venv
fi
.venv/bin/pip install -q -e '.[test,fast]'

# As root (CI) LibreOffice was just installed, so a missing one is a failure, not a skip.
if [ "$(id -u)" -eq 0 ]; then
    export XLFORM_REQUIRE_LIBREOFFICE="${XLFORM_REQUIRE_LIBREOFFICE:-1}"
fi

exec .venv/bin/python -m pytest -q "$@"
