# The embedded MongoDB-compatible server, its data in $PREFIX/var/lib/mongodb:
# secantusd-rs (build/secantusd-rs.sh) or secantusd-py (the SecantusDB package of
# the virtual environment), as etc/mongo.conf's `server` says.

mongodb_install() {
    test -x "$PREFIX/venv/bin/secantusd-py"
    if [ ! -d "$PREFIX/var/lib/mongodb" ]; then
        install -d -o "$CANOPSIS_USER" -g "$CANOPSIS_USER" -m 750 "$PREFIX/var/lib/mongodb"
        changed
    fi
    local server log=$INSTALL_LOGS/secantusd-rs-build.log
    server=$("$PREFIX/venv/bin/python" -P -c \
        'from canopsis.ops import config; c = config.load("mongo"); print(c["server"] if c["managed"] else "")')
    if [ -z "$server" ]; then
        summary "mongodb: not managed (etc/mongo.conf uri)"
    elif [ "$server" = python ] || [ -n "$(secantusd_rs_cached)" ]; then
        [ -n "$(secantusd_rs_cached)" ] && secantusd_rs_copy "$PREFIX/venv" && changed
        summary "mongodb: $(mongodb_server_name "$server")"
    elif [ -e "$PREFIX/var/run/secantusd-rs.build" ] && pgrep -f "secantusd-rs.sh background $PREFIX\$" > /dev/null; then
        summary "mongodb: secantusd-py while secantusd-rs builds (log: $log)"
    else
        apt_install cmake gcc g++ make
        secantusd_rs_tell "$PREFIX/var/run/secantusd-rs.build" \
            "building secantus-mdb $SECANTUS_MDB_VERSION since $(date -Is) (log: $log)"
        setsid nohup bash "$SRC/build/secantusd-rs.sh" background "$PREFIX" > "$log" 2>&1 < /dev/null &
        summary "mongodb: secantusd-py for now: building secantusd-rs $SECANTUS_MDB_VERSION in the background"
        note "about 4 minutes on 2 cores (log: $log); then mongodb restarts on secantusd-rs, same data"
        note "secantusd-rs goes to $PREFIX/venv/bin, its build is kept in $SECANTUSD_RS_CACHE"
        changed
    fi
}

# "secantusd-rs VERSION" or "secantusd-py VERSION" for SERVER (rust or python).
mongodb_server_name() {
    if [ "$1" = rust ]; then
        echo "secantusd-rs $SECANTUS_MDB_VERSION ($PREFIX/venv/bin/secantusd-rs)"
    else
        echo "secantusd-py $("$PREFIX/venv/bin/python" -c \
            'from importlib.metadata import version; print(version("SecantusDB"))')"
    fi
}

mongodb_remove() {
    rm -f "$PREFIX/venv/bin/secantusd-rs"
    if [ "$PURGE" = 1 ]; then
        rm -rf "$PREFIX/var/lib/mongodb"
        summary "mongodb data removed"
    else
        summary "mongodb: kept the data in $PREFIX/var/lib/mongodb"
    fi
}
