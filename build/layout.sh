# The canopsis system user and the home layout of $PREFIX.

LAYOUT_DIRS="bin etc var var/log var/run var/lib var/cache var/log/install var/lib/canopsis"

layout_install() {
    local made=0
    if [ -n "$(ensure_system_user "$CANOPSIS_USER" "$PREFIX")" ]; then
        made=1
        note "created the system user $CANOPSIS_USER"
    fi
    for dir in $LAYOUT_DIRS; do
        [ -d "$PREFIX/$dir" ] || { mkdir -p "$PREFIX/$dir"; made=1; }
    done
    chmod 755 "$PREFIX" "$PREFIX/bin" "$PREFIX/var"
    chown root:"$CANOPSIS_USER" "$PREFIX/etc" "$PREFIX/var/run"
    chmod 750 "$PREFIX/etc"
    chmod 770 "$PREFIX/var/run"
    chown "$CANOPSIS_USER:$CANOPSIS_USER" "$PREFIX/var/log" "$PREFIX/var/lib" "$PREFIX/var/cache"
    chmod 750 "$PREFIX/var/log/install" "$PREFIX/var/lib/canopsis"
    [ "$made" = 1 ] && changed
    summary "layout $PREFIX (user $CANOPSIS_USER)"
}

layout_remove() {
    rm -rf "$PREFIX/bin" "$PREFIX/var/run" "$PREFIX/var/cache" "$PREFIX/var/log"
    if [ "$PURGE" = 1 ]; then
        rm -rf "$PREFIX/etc" "$PREFIX/var"
        rmdir "$PREFIX" 2>/dev/null || true
        if [ "$(getent passwd "$CANOPSIS_USER" | cut -d: -f6)" = "$PREFIX" ]; then
            userdel "$CANOPSIS_USER"
            getent group "$CANOPSIS_USER" >/dev/null && groupdel "$CANOPSIS_USER"
        fi
        summary "layout removed with configuration and data"
    else
        summary "layout removed; kept $PREFIX/etc and $PREFIX/var/lib"
    fi
}
