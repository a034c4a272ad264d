# Sourced by scripts/test and scripts/demo from the repository root: makes sure .venv exists (python3 >= 3.11) and
# holds '.[dev]' as pinned by constraints.txt, re-installing only when pyproject.toml or constraints.txt change.
# Sets $root and $venv.
root=$(pwd)
venv="$root/.venv"
stamp="$venv/.welfare-fund-ledger-installed"

python_ok() {  # is "$1" a Python >= 3.11?
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

if [[ -x "$venv/bin/python" ]] && ! python_ok "$venv/bin/python"; then
    echo "${0##*/}: $venv is broken or older than Python 3.11; recreating it" >&2
    rm -rf "$venv"
fi
if [[ ! -x "$venv/bin/python" ]]; then
    base=""
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            base=$candidate
            break
        fi
    done
    if [[ -z "$base" ]]; then
        echo "${0##*/}: needs python3 >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
        exit 2
    fi
    echo "${0##*/}: creating $venv with $("$base" --version)"
    "$base" -m venv "$venv"
fi

wanted=$(cat pyproject.toml constraints.txt <("$venv/bin/python" --version) | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    echo "${0##*/}: installing -e '.[dev]' -c constraints.txt into .venv"
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]' -c constraints.txt
    echo "$wanted" >"$stamp"
fi
