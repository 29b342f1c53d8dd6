# The embedded MongoDB-compatible server (secantusd-py, from the SecantusDB
# package in the virtual environment), its data in $PREFIX/var/lib/mongodb.

mongodb_install() {
    test -x "$PREFIX/venv/bin/secantusd-py"
    if [ ! -d "$PREFIX/var/lib/mongodb" ]; then
        install -d -o "$CANOPSIS_USER" -g "$CANOPSIS_USER" -m 750 "$PREFIX/var/lib/mongodb"
        changed
    fi
    summary "mongodb: secantusd-py $("$PREFIX/venv/bin/python" -c \
        'from importlib.metadata import version; print(version("SecantusDB"))')"
}

mongodb_remove() {
    if [ "$PURGE" = 1 ]; then
        rm -rf "$PREFIX/var/lib/mongodb"
        summary "mongodb data removed"
    else
        summary "mongodb: kept the data in $PREFIX/var/lib/mongodb"
    fi
}
