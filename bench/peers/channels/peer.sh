#!/usr/bin/env bash
# Drive the Django Channels comparison peer (see README.md).
#
#   peer.sh install VENV_DIR                create the virtualenv and install requirements.txt
#   peer.sh prepare VENV_DIR [--tokens N]   migrate $FEED_DB, then seed it; the last line of
#                                           stdout is the seed's JSON
#   peer.sh prepare-chat VENV_DIR [--agents N] [--requesters N]
#                                           migrate $FEED_DB, then seed the chat's agents and
#                                           requesters; the last line of stdout is their JSON
#   peer.sh serve VENV_DIR PORT LAYER       exec daphne on 127.0.0.1:PORT with the channel
#                                           layer LAYER (memory or redis)
#
# FEED_DB is a SQLite file path or a postgres:// URL (prepare and serve must see the same one).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"

usage() {
    echo "usage: $0 install VENV_DIR | prepare VENV_DIR [--tokens N] | prepare-chat VENV_DIR [--agents N] [--requesters N] | serve VENV_DIR PORT memory|redis" >&2
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
    if [[ -z "${FEED_DB:-}" ]]; then
        echo "$0: set FEED_DB to a SQLite file path" >&2
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
        marker="$venv/.feedpeer-requirements.sha256"
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
    prepare-chat)
        [[ $# -ge 1 ]] || usage
        venv="$(installed_venv "$1")"
        shift
        need_db
        cd "$HERE"
        "$venv/bin/python" manage.py migrate --verbosity 0 --no-input
        "$venv/bin/python" manage.py seed_chat "$@"
        ;;
    serve)
        [[ $# -eq 3 ]] || usage
        venv="$(installed_venv "$1")"
        port="$2"
        case "$3" in
            memory | redis) ;;
            *) usage ;;
        esac
        need_db
        cd "$HERE"
        # One daphne process: the in-memory layer only reaches the sockets of its own
        # process, and one process per node is how the seed's chat services ran.
        FEED_LAYER="$3" exec "$venv/bin/daphne" \
            --bind 127.0.0.1 \
            --port "$port" \
            --verbosity 0 \
            feedpeer.asgi:application
        ;;
    *)
        usage
        ;;
esac
