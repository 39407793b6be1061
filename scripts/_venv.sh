# Shared by scripts/serve and scripts/test: make .venv and install hookline into it.
# ensure_venv EXTRAS   (EXTRAS is "" or "[test]")
ensure_venv() {
  local extras="$1"
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    echo "== first run: making .venv and installing hookline${extras} into it (a minute or two)" >&2
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  # Reinstall only when the project definition changed since the last install.
  local stamp=".venv/.hookline-installed${extras}"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "== installing hookline${extras} and its dependencies into .venv (pip, quiet)" >&2
    .venv/bin/python -m pip install --quiet -e ".${extras}"
    touch "$stamp"
  fi
}

# A Debian package the tests run a program of, installed once when the program is missing.
# Needs root and apt-get (as on CI); elsewhere the tests that need it skip, saying why.
# ensure_debian_program PROGRAM PACKAGE WHAT-FOR
ensure_debian_program() {
  local program="$1" package="$2" purpose="$3"
  command -v "$program" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "note: $program is missing (apt-get install $package as root); $purpose will skip" >&2
    return 0
  fi
  echo "== installing $package (Debian package) for $purpose"
  export DEBIAN_FRONTEND=noninteractive
  # A failed install does not stop the run: the tests that need it then say why.
  apt-get install -y -qq "$package" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$package" >/dev/null; } \
    || echo "note: could not install $package; $purpose will skip (fail under CI=true)" >&2
}

# Debian's chromium for the browser tests (tests/browser).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  ensure_debian_program chromium chromium "the browser tests"
}

# Go, to build the Go snippet of docs/verifying.md (tests/acceptance/test_docs_examples.py).
ensure_go() {
  ensure_debian_program go golang-go "the Go snippet's test"
}

# promtool, to check and unit-test the Prometheus alert rules in deploy/prometheus
# (tests/acceptance/test_monitoring.py).
ensure_promtool() {
  ensure_debian_program promtool prometheus "the alert rules' tests"
}

# The JavaScript SDKs (npm svix, standardwebhooks) for tests/acceptance/test_svix_js_sdk.py,
# installed from its package-lock.json into tests/acceptance/js/node_modules (gitignored).
# And axe-core, which the browser tests load into each page they check, into
# tests/browser/js/node_modules. Without node and npm those skip, except under CI=true.
ensure_js_sdk() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "note: npm is missing (apt-get install nodejs npm); the JavaScript SDK's test and the browser tests' accessibility checks will skip" >&2
    return 0
  fi
  _npm_ci tests/acceptance/js "the JavaScript SDKs" "the JavaScript SDK's test"
  _npm_ci tests/browser/js "axe-core, the accessibility checker" "the browser tests"
}

# npm ci in a folder whose package-lock.json is newer than its installed tree.
_npm_ci() {
  local folder=$1 what=$2 who=$3
  [ -f "$folder/node_modules/.package-lock.json" ] \
    && [ ! "$folder/package-lock.json" -nt "$folder/node_modules/.package-lock.json" ] && return 0
  echo "== installing $what (npm ci in $folder)"
  (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error) \
    || echo "note: npm ci failed in $folder; $who will fail under CI=true" >&2
}

# tinyproxy, the real forward (CONNECT) proxy the egress proxy tests send through
# (tests/integration/test_egress_proxy.py).
ensure_tinyproxy() {
  ensure_debian_program tinyproxy tinyproxy "the egress proxy tests"
}
