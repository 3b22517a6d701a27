#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes a virtual environment (unless one is already active),
# installs the pinned Python packages and, for the tests, the Debian packages they need.
#   source scripts/setup.sh app|dev
set -euo pipefail
profile=${1:-app}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x "$root/.venv/bin/python" ]; then
    echo "setup: creating virtual environment .venv" >&2
    python3 -m venv "$root/.venv"
  fi
  # shellcheck disable=SC1091
  source "$root/.venv/bin/activate"
fi

req="$root/requirements.txt"
[ "$profile" = dev ] && req="$root/requirements-dev.txt"
stamp="$VIRTUAL_ENV/.survey-$(basename "$req").sha"
want=$(cat "$root/requirements.txt" "$req" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing $(basename "$req")" >&2
  python -m pip install --quiet --disable-pip-version-check --upgrade pip
  python -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

if [ "$profile" = dev ]; then
  # Debian packages: Chromium and a CJK font for the browser tests, R's survey package for the
  # reference checks (survey; psych for Cronbach's alpha and factor analysis). Never a downloaded browser.
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  fc-list 2>/dev/null | grep -qi "wenquanyi micro hei" || missing+=(fonts-wqy-microhei)
  Rscript -e 'library(survey)' >/dev/null 2>&1 || missing+=(r-cran-survey)
  Rscript -e 'library(psych)' >/dev/null 2>&1 || missing+=(r-cran-psych)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    if [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
      echo "setup: please install the Debian packages: ${missing[*]}" >&2
      exit 1
    fi
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
