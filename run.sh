#!/usr/bin/env bash
# Set up and start the survey app on the embedded default: responses in ./data (override with
# SURVEY_DATA_DIR), filled with demo responses when empty. Extra arguments go to streamlit.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh app
python -m analysis demo --if-empty
exec python -m streamlit run survey_app.py "$@"
