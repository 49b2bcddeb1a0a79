#!/usr/bin/env bash
# The README's two commands:  ./studio.sh        opens the studio on the demo workspace
#                             ./studio.sh test   runs the test suite
# Each sets up .venv from nothing when it is missing or when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
venv="$root/.venv"
stamp="$venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"

setup() {
    if [ -f "$stamp" ]; then return 0; fi
    echo "setting up $venv (first run: builds llama.cpp, several minutes on 2 cores)" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel >&2
    # The CPU wheel of torch lies on these machines; installing it first keeps pip from a CUDA download.
    "$venv/bin/python" -m pip install -q "torch==2.13.0" >&2 || "$venv/bin/python" -m pip install -q torch >&2
    # llama.cpp without -march=native: a native build enables AMX here and quantized models segfault.
    # GPU users: CMAKE_ARGS="-DGGML_CUDA=on" ./studio.sh
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
    export FORCE_CMAKE=1
    "$venv/bin/python" -m pip install -q -e ".[test]" >&2
    rm -f "$venv"/.installed-*
    touch "$stamp"
}

cmd="${1:-run}"
case "$cmd" in
    test)
        shift || true
        setup
        exec "$venv/bin/python" -m pytest -q "$@"
        ;;
    run|tui)
        [ $# -gt 0 ] && shift
        setup
        exec "$venv/bin/blackroad-studio" tui "$@"
        ;;
    setup)
        setup
        ;;
    *)
        setup
        exec "$venv/bin/blackroad-studio" "$@"
        ;;
esac
