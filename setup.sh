#!/usr/bin/env bash
# One-step set-up: Debian libraries (when run as root with apt), a virtual environment
# in .venv, and the package with every extra and the test extra (`make run` and `make test`
# need all of it; a core-only install is `pip install .`, README "Install only what you need"). Re-running is safe.
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN_PACKAGES=(libsndfile1 espeak-ng)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "setup.sh: not root or no apt-get; make sure these are installed: ${DEBIAN_PACKAGES[*]}" >&2
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# setuptools >= 77 reads pyproject.toml's PEP 639 license fields, so that the package also builds
# offline from this venv: pip wheel . --no-build-isolation --no-deps
.venv/bin/python -m pip install -q --upgrade pip 'setuptools>=77'
.venv/bin/python -m pip install -q -e '.[all,test]'
echo "setup.sh: done. Activate with: . .venv/bin/activate"
