#!/usr/bin/env bash
# Drive the Django comparison peer (see README.md).
#
#   peer.sh install VENV_DIR            create the virtualenv and install requirements.txt
#   peer.sh prepare VENV_DIR [ARGS...]  migrate $DESK_DB, then seed it (ARGS go to `seed`);
#                                       the last line of stdout is the seed's JSON
#   peer.sh serve VENV_DIR PORT         exec gunicorn on 127.0.0.1:PORT, nproc+1 sync workers
#
# DESK_DB is a postgres:// URL or a SQLite file path (prepare and serve must see the same).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

usage() {
    echo "usage: $0 install VENV_DIR | prepare VENV_DIR [seed args...] | serve VENV_DIR PORT" >&2
    exit 2
}

# The absolute path of an installed virtualenv.
installed_venv() {
    [[ $# -ge 1 && -n "$1" ]] || usage
    if [[ ! -x "$1/bin/python" ]]; then
        echo "$0: no virtualenv at $1: run '$0 install $1' first" >&2
        exit 2
    fi
    (cd "$1" && pwd)
}

need_db() {
    if [[ -z "${DESK_DB:-}" ]]; then
        echo "$0: set DESK_DB to a postgres:// URL or a SQLite file path" >&2
        exit 2
    fi
}

cmd="${1:-}"
[[ $# -ge 1 ]] && shift
case "$cmd" in
    install)
        [[ $# -eq 1 && -n "$1" ]] || usage
        mkdir -p "$1"
        venv="$(cd "$1" && pwd)"
        if [[ ! -x "$venv/bin/python" ]]; then
            "$PYTHON" -m venv "$venv"
        fi
        hash="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
        marker="$venv/.deskpeer-requirements.sha256"
        if [[ -f "$marker" && "$(cat "$marker")" == "$hash" ]]; then
            exit 0
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$HERE/requirements.txt"
        echo "$hash" >"$marker"
        ;;
    prepare)
        [[ $# -ge 1 ]] || usage
        venv="$(installed_venv "$1")"
        shift
        need_db
        cd "$HERE"
        "$venv/bin/python" manage.py migrate --verbosity 0 --no-input
        "$venv/bin/python" manage.py seed "$@"
        ;;
    serve)
        [[ $# -eq 2 ]] || usage
        venv="$(installed_venv "$1")"
        port="$2"
        need_db
        exec "$venv/bin/gunicorn" deskpeer.wsgi:application \
            --chdir "$HERE" \
            --workers "$(($(nproc) + 1))" \
            --worker-class sync \
            --bind "127.0.0.1:$port" \
            --log-level warning
        ;;
    *)
        usage
        ;;
esac
