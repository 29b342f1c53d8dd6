# secantusd-rs, the Rust embedded MongoDB-compatible server (crate secantus-mdb on
# crates.io), built once per version into $SECANTUSD_RS_CACHE and copied beside
# secantusd-py into a virtual environment. Sourced by build-install.sh and
# run-tests.sh; run as a script (`secantusd-rs.sh background PREFIX`) for the
# install's build in the background.

SECANTUS_MDB_VERSION=0.5.3-beta.193
# the crate's rust-version: rustup installs it when the default toolchain is older
SECANTUS_MDB_RUST=1.98
SECANTUSD_RS_CACHE=${CANOPSIS_CACHE:-/var/cache/canopsis}/secantus-mdb-$SECANTUS_MDB_VERSION
SECANTUSD_RS=$SECANTUSD_RS_CACHE/bin/secantusd-rs

# The cached binary, or an empty line.
secantusd_rs_cached() {
    if [ -x "$SECANTUSD_RS" ]; then echo "$SECANTUSD_RS"; fi
}

# Build the binary into the cache unless it is there (build/crate.sh); one build at a
# time. cargo's output on stdout.
secantusd_rs_build() {
    crate_build secantus-mdb "$SECANTUS_MDB_VERSION" secantusd-rs "$SECANTUS_MDB_RUST" \
        "$SECANTUSD_RS_CACHE"
}

# Copy the cached binary into the virtual environment VENV (its bin/secantusd-rs);
# true when it changed.
secantusd_rs_copy() {
    local target=$1/bin/secantusd-rs
    cmp -s "$SECANTUSD_RS" "$target" && return 1
    install -m 755 "$SECANTUSD_RS" "$target.new"
    mv -f "$target.new" "$target"
}

# Write the one line of the status file FILE, readable by mongodb's launcher.
secantusd_rs_tell() {
    printf '%s\n' "$2" > "$1" && chmod 644 "$1"
}

# The install's build in the background: build, copy into PREFIX's virtual environment,
# and restart mongodb when it runs (on secantusd-py until then); the outcome in the
# status file canopsis-launch reads (see canopsis/cli/launch.py, BUILD_STATUS).
secantusd_rs_background() {
    local prefix=$1 status=$1/var/run/secantusd-rs.build log
    log=$prefix/var/log/install/secantusd-rs-build.log
    echo "started $(date -Is)"
    if ! secantusd_rs_build; then
        secantusd_rs_tell "$status" "the build of secantus-mdb $SECANTUS_MDB_VERSION failed on $(date -Is): $(tail -n 1 "$log") (log: $log)"
        return 1
    fi
    secantusd_rs_copy "$prefix/venv"
    rm -f "$status"
    echo "built $(date -Is): $prefix/venv/bin/secantusd-rs"
    if [ -S "$prefix/var/run/supervisor.sock" ] && "$prefix/bin/service" mongodb status > /dev/null 2>&1; then
        echo "handing the database over to secantusd-rs: restarting mongodb"
        "$prefix/bin/service" mongodb restart
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = background ]; then
    set -uo pipefail
    # shellcheck source=build/crate.sh
    . "$(dirname "${BASH_SOURCE[0]}")/crate.sh"
    secantusd_rs_background "$2"
fi
