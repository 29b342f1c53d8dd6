#!/usr/bin/env bash
# Install, update or remove canopsis in $PREFIX (default /opt/canopsis).
# One line per step; on failure the step's log tail and a non-zero exit.
set -uo pipefail

usage() {
    cat <<USAGE
usage: build-install.sh [--prefix DIR] [--update | --remove [--purge]] [--start]

  (no option)   install or update everything into PREFIX; a second run changes nothing
  --prefix DIR  install root (default: \$CANOPSIS_PREFIX or /opt/canopsis)
  --update      reinstall the canopsis code, the default configuration and the
                database server's build (kept per version: no rebuild) only
                (both: a running system restarts what changed, see hypcontrol reload)
  --remove      stop canopsis and remove what this script installed,
                keeping PREFIX/etc and PREFIX/var/lib
  --purge       with --remove: remove the configuration, the data and the canopsis user too
  --start       after installing, start the whole system (hypcontrol start)
USAGE
}

ARGS=("$@")
PREFIX=${CANOPSIS_PREFIX:-/opt/canopsis}
MODE=install
PURGE=0
START=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "build-install.sh: --prefix needs a directory" >&2; exit 2; }
                  PREFIX=$2; shift ;;
        --prefix=*) PREFIX=${1#--prefix=} ;;
        --update) MODE=update ;;
        --remove) MODE=remove ;;
        --purge) PURGE=1 ;;
        --start) START=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$PURGE" = 1 ] && [ "$MODE" != remove ]; then
    echo "build-install.sh: --purge goes with --remove" >&2; exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "build-install.sh: must be run as root (try: sudo $0 ${ARGS[*]})" >&2; exit 1
fi
case "$PREFIX" in
    /*) PREFIX=${PREFIX%/} ;;
    *) echo "build-install.sh: --prefix must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PREFIX SRC PURGE CANOPSIS_PREFIX=$PREFIX
export DEBIAN_FRONTEND=noninteractive
CANOPSIS_USER=canopsis
STATE=$PREFIX/var/lib/canopsis
INSTALL_LOGS=$PREFIX/var/log/install
CHANGES=0
RUN_DIR=$(mktemp -d)
trap 'rm -rf "$RUN_DIR"' EXIT
export RUN_DIR

for script in "$SRC"/build/*.sh; do
    # shellcheck source=/dev/null
    . "$script"
done

# Helpers for the steps; they run in a subshell with `set -e`, stdout and
# stderr going to the step's log, and talk back through files.
summary() { printf '%s\n' "$*" > "$STEP_DIR/summary"; }
note() { printf '%s\n' "$*" >> "$STEP_DIR/notes"; }
changed() { : > "$STEP_DIR/changed"; }

# step NAME FUNCTION: run one step, print its line, stop everything on failure.
step() {
    local name=$1 fn=$2 began log rc
    STEP_DIR=$RUN_DIR/step
    rm -rf "$STEP_DIR" && mkdir "$STEP_DIR"
    mkdir -p "$INSTALL_LOGS" 2>/dev/null || INSTALL_LOGS=$(mktemp -d)
    log=$INSTALL_LOGS/$name.log
    (umask 027 && : >> "$log")
    began=$(date +%s)
    ( set -e; "$fn" ) > "$log" 2>&1
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "[FAIL] $name (exit $rc); last lines of $log:"
        tail -n 20 "$log" | sed 's/^/    /'
        exit 1
    fi
    local text="$name"
    [ -s "$STEP_DIR/summary" ] && text=$(cat "$STEP_DIR/summary")
    if [ -e "$STEP_DIR/changed" ]; then
        CHANGES=$((CHANGES + 1))
        text="$text $(( $(date +%s) - began )) s"
    fi
    echo "[ok] $text"
    [ -s "$STEP_DIR/notes" ] && sed 's/^/     /' "$STEP_DIR/notes"
    return 0
}

# apt_install PACKAGE...: install the missing ones, recording what canopsis installed.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ ! -e "$RUN_DIR/apt-updated" ]; then
        apt-get update
        : > "$RUN_DIR/apt-updated"
    fi
    apt-get install -y --no-install-recommends "${missing[@]}"
    mkdir -p "$STATE"
    printf '%s\n' "${missing[@]}" >> "$STATE/debian-packages"
    changed
}

package_version() {
    dpkg-query -W -f='${Version}' "$1" | sed -E 's/^[0-9]+://; s/^([0-9]+\.[0-9]+).*/\1/'
}

case "$MODE" in
    install)
        step layout layout_install
        step rabbitmq-server rabbitmq_install
        step collectd collectd_install
        step python-env python_env_install
        step canopsis canopsis_install
        step console console_install
        step mongodb mongodb_install
        step supervisor supervisor_install
        ;;
    update)
        [ -x "$PREFIX/venv/bin/python" ] \
            || { echo "build-install.sh: canopsis is not installed in $PREFIX: run it without --update" >&2; exit 1; }
        step layout layout_install
        step canopsis canopsis_install
        step console console_install
        step mongodb mongodb_install
        ;;
    remove)
        step stop canopsis_stop
        step supervisor supervisor_remove
        step mongodb mongodb_remove
        step console console_remove
        step canopsis canopsis_remove
        step python-env python_env_remove
        step collectd collectd_remove
        step rabbitmq-server rabbitmq_remove
        step layout layout_remove
        echo "canopsis removed from $PREFIX"
        exit 0
        ;;
esac

if [ "$CHANGES" = 0 ]; then
    echo "canopsis is up to date in $PREFIX: nothing changed"
else
    echo "canopsis installed in $PREFIX"
fi
# A running system takes the new version and configuration: supervisord rereads its
# programs, and what changed restarts in hypcontrol's order (hypcontrol reload).
SUPERVISED=0
if [ -S "$PREFIX/var/run/supervisor.sock" ]; then
    "$PREFIX/bin/hypcontrol" reload
    case $? in
        0) SUPERVISED=1 ;;
        3) ;;  # supervisord is not running after all
        4) echo "canopsis runs the new version in $PREFIX, but supervisord's own settings changed: apply them with: $PREFIX/bin/hypcontrol restart"
           exit 0 ;;
        *) echo "canopsis is installed in $PREFIX, but not everything restarted (see above): once fixed, run: $PREFIX/bin/hypcontrol reload"
           exit 1 ;;
    esac
fi
if [ "$START" = 1 ]; then
    "$PREFIX/bin/hypcontrol" start || exit 1
    "$PREFIX/venv/bin/python" -P -m canopsis.cli.welcome
elif [ "$SUPERVISED" = 0 ]; then
    echo "start it with: $PREFIX/bin/hypcontrol start"
elif "$PREFIX/bin/hypcontrol" status > /dev/null 2>&1; then
    echo "canopsis runs this version in $PREFIX: $PREFIX/bin/hypcontrol status"
else
    echo "canopsis runs this version in $PREFIX, but not every program runs: start them with: $PREFIX/bin/hypcontrol start"
fi
