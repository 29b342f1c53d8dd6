# The operator console: its JavaScript libraries from the npm registry, at the versions
# of console/package-lock.json, built with esbuild into $PREFIX/share/console, which
# the webserver serves under /console. Node.js and npm from Debian when missing.

CONSOLE_SOURCES="package.json package-lock.json build.mjs src"

# A digest of the console's sources, to build again only when they changed.
console_digest() {
    (cd "$SRC/console" && find $CONSOLE_SOURCES -type f -print0 | sort -z | xargs -0 sha256sum \
        | sha256sum | cut -c1-16)
}

# console_build SOURCE WORK OUT: build the console of SOURCE in WORK (npm ci there, so
# SOURCE is left as it is) into OUT.
console_build() {
    local source=$1 work=$2 out=$3
    mkdir -p "$work"
    rm -rf "$work/src"
    (cd "$source" && cp -r $CONSOLE_SOURCES "$work/")
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error && node build.mjs "$out")
}

console_install() {
    local digest out=$PREFIX/share/console
    command -v npm > /dev/null || apt_install nodejs npm
    digest=$(console_digest)
    if [ "$(cat "$STATE/console-digest" 2>/dev/null)" != "$digest" ] || [ ! -f "$out/index.html" ]; then
        console_build "$SRC/console" "$PREFIX/var/cache/console-build" "$out.new"
        rm -rf "$out" && mv "$out.new" "$out"
        chmod -R a+rX "$PREFIX/share"
        printf '%s\n' "$digest" > "$STATE/console-digest"
        changed
    fi
    summary "console $digest (built with node $(node --version))"
}

console_remove() {
    rm -rf "$PREFIX/share/console" "$PREFIX/var/cache/console-build" "$STATE/console-digest"
    rmdir "$PREFIX/share" 2>/dev/null || true
    debian_package_remove npm || true
    debian_package_remove nodejs || true
    summary "console removed"
}
