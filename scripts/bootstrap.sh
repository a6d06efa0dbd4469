# Sourced by the other scripts: make sure .venv exists and holds the project.
# Usage: . scripts/bootstrap.sh [extras]   (extras e.g. "test")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info < (3, 14) else 1)'; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Python 3.11 to 3.13 is needed (apt-get install python3)." >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv's pip bootstrap separately.
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "Installing python3-venv..." >&2
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv "$VENV"
    else
      echo "Could not create a virtual environment: run 'sudo apt-get install python3-venv'." >&2
      exit 1
    fi
  fi
fi

# Reinstall only when the project's dependencies changed.
SPEC="${EXTRAS:+[$EXTRAS]}"
STAMP="$VENV/.install-stamp${EXTRAS:+-$EXTRAS}"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "Installing the bot into .venv ${SPEC}..." >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT$SPEC"
  echo "$WANT" >"$STAMP"
fi
