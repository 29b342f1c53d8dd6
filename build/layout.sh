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
    chown "$CANOPSIS_USER:$CANOPSIS_USER" "$PREFIX/var/lib" "$PREFIX/var/cache"
    chmod 750 "$PREFIX/var/lib/canopsis"
    [ -n "$(logs_not_private)" ] && { logs_private; made=1; }
    [ "$made" = 1 ] && changed
    summary "layout $PREFIX (user $CANOPSIS_USER)"
}

# The logs are the canopsis group's: files 0640, folders 2750 (setgid: a file that
# supervisord, as root, or the broker creates there, a rotation's included, takes the
# group; supervisord's umask 027 makes it 0640). var/log itself also lets others
# through (2751), for the broker (the rabbitmq user) to reach var/log/rabbitmq.
logs_private() {
    local logs=$PREFIX/var/log
    chown "$CANOPSIS_USER:$CANOPSIS_USER" "$logs"
    chgrp -R "$CANOPSIS_USER" "$logs"
    find "$logs" -mindepth 1 -type d -exec chmod 2750 {} +
    chmod 2751 "$logs"
    find "$logs" -type f -exec chmod 640 {} +
}

# The first file or folder of var/log that logs_private would change, if any.
logs_not_private() {
    local logs=$PREFIX/var/log
    find "$logs" \( ! -group "$CANOPSIS_USER" -o -type f ! -perm 640 \
        -o -type d ! -perm 2750 ! -path "$logs" -o -path "$logs" ! \( -perm 2751 -user "$CANOPSIS_USER" \) \) \
        -print -quit
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
