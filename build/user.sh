# The canopsis system user and group (the install and the test suite both need them).

# ensure_system_user NAME HOME: create the system group and user NAME when missing;
# prints "created" when it made something.
ensure_system_user() {
    local name=$1 home=$2 made=0
    if ! getent group "$name" >/dev/null; then
        groupadd --system "$name"
        made=1
    fi
    if ! getent passwd "$name" >/dev/null; then
        useradd --system --gid "$name" --home-dir "$home" --no-create-home \
            --shell /usr/sbin/nologin --comment "canopsis event hypervision" "$name"
        made=1
    fi
    [ "$made" = 0 ] || echo created
}
