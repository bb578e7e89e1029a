#!/usr/bin/env bash
# Set up .venv and run the demo:  bash scripts/demo.sh [xlform demo args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    echo "demo.sh: creating .venv"
    python3 -m venv .venv
fi
.venv/bin/pip install -q -e '.[fast]'

exec .venv/bin/xlform demo "$@"
