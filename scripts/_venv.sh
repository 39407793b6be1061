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
