# Shared by scripts/serve and scripts/test: make .venv and install hookline into it.
# ensure_venv EXTRAS   (EXTRAS is "" or "[test]")
ensure_venv() {
  local extras="$1"
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  # Reinstall only when the project definition changed since the last install.
  local stamp=".venv/.hookline-installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet -e ".${extras}"
    touch "$stamp"
  fi
}

# Debian's chromium for the browser tests (tests/browser), installed once when missing.
# Needs root and apt-get (as on CI); elsewhere the browser tests skip, saying why.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: /usr/bin/chromium is missing (apt-get install chromium as root); browser tests will skip" >&2
    return 0
  fi
  echo "== installing chromium (Debian package) for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
}
