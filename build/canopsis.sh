# The canopsis code in the virtual environment, its commands in $PREFIX/bin,
# and the default configuration in $PREFIX/etc.

CANOPSIS_SOURCES="setup.cfg pyproject.toml README.md canopsis engines webserver connectors"

# A digest of the sources, to reinstall only when they changed.
canopsis_digest() {
    (cd "$SRC" && find $CANOPSIS_SOURCES -type f ! -path '*/__pycache__/*' ! -name '*.pyc' \
        -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

canopsis_install() {
    local venv=$PREFIX/venv digest build=$PREFIX/var/cache/build
    digest=$(canopsis_digest)
    if [ "$(cat "$STATE/code-digest" 2>/dev/null)" != "$digest" ]; then
        rm -rf "$build" && mkdir -p "$build"
        (cd "$SRC" && cp -r --parents $CANOPSIS_SOURCES "$build/")
        find "$build" -name __pycache__ -prune -exec rm -rf {} +
        "$venv/bin/pip" install --quiet --no-deps --no-build-isolation --force-reinstall "$build"
        rm -rf "$build"
        chmod -R a+rX "$venv"
        printf '%s\n' "$digest" > "$STATE/code-digest"
        changed
    fi
    canopsis_link_commands
    "$venv/bin/python" -P -m canopsis.ops.etcsync "$SRC/etc" "$PREFIX" > "$STEP_DIR/etc-notes"
    if [ -s "$STEP_DIR/etc-notes" ]; then
        cat "$STEP_DIR/etc-notes" >> "$STEP_DIR/notes"
        changed
    fi
    "$venv/bin/python" -P -m canopsis.ops.firstadmin "$PREFIX" "$CANOPSIS_USER" > "$STEP_DIR/admin-notes"
    if [ -s "$STEP_DIR/admin-notes" ]; then
        cat "$STEP_DIR/admin-notes" >> "$STEP_DIR/notes"
        changed
    fi
    summary "canopsis $("$venv/bin/python" -c 'import canopsis; print(canopsis.__version__)') ($digest)"
}

# Link every console script of the canopsis distribution into $PREFIX/bin.
canopsis_link_commands() {
    local name
    for name in $("$PREFIX/venv/bin/python" -c '
from importlib.metadata import distribution
print(" ".join(e.name for e in distribution("canopsis").entry_points if e.group == "console_scripts"))'); do
        [ "$(readlink "$PREFIX/bin/$name" 2>/dev/null)" = "../venv/bin/$name" ] && continue
        ln -sfn "../venv/bin/$name" "$PREFIX/bin/$name"
        changed
    done
}

canopsis_stop() {
    if [ -x "$PREFIX/bin/hypcontrol" ] && [ -S "$PREFIX/var/run/supervisor.sock" ]; then
        "$PREFIX/bin/hypcontrol" stop
        summary "canopsis stopped"
    else
        summary "canopsis is not running"
    fi
}

canopsis_remove() {
    rm -rf "$STATE/code-digest" "$STATE/etc-manifest.json" "$STATE/etc-defaults"
    find "$PREFIX/bin" -maxdepth 1 -type l -lname '../venv/bin/*' -delete 2>/dev/null || true
    summary "canopsis code removed"
}
