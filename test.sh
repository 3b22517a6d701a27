#!/usr/bin/env bash
# Set up everything the tests need (Python packages, Chromium, a CJK font, R's survey package)
# and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh dev
exec python -m pytest "$@"
