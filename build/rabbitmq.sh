# Debian's RabbitMQ, run by supervisord with its data and logs in $PREFIX.

rabbitmq_install() {
    local was_there=1
    dpkg-query -W -f='${Status}' rabbitmq-server 2>/dev/null | grep -q "install ok installed" || was_there=0
    apt_install rabbitmq-server
    if [ "$was_there" = 0 ] && [ -d /run/systemd/system ]; then
        # The package starts the system's own broker; canopsis runs its own.
        systemctl disable --now rabbitmq-server
        note "disabled the system rabbitmq-server service: canopsis runs its own broker"
    fi
    install -d -o rabbitmq -g rabbitmq -m 750 "$PREFIX/var/lib/rabbitmq"
    install -d -o rabbitmq -g "$CANOPSIS_USER" -m 2750 "$PREFIX/var/log/rabbitmq"
    install -d -o root -g "$CANOPSIS_USER" -m 750 "$PREFIX/etc/rabbitmq"
    local how=present
    [ "$was_there" = 0 ] && how=installed
    summary "rabbitmq-server $(package_version rabbitmq-server) ($how)"
}

rabbitmq_remove() {
    [ "$PURGE" = 1 ] && rm -rf "$PREFIX/var/lib/rabbitmq"
    rm -rf "$PREFIX/var/log/rabbitmq"
    if debian_package_remove rabbitmq-server; then
        summary "rabbitmq-server removed"
    else
        summary "rabbitmq-server: kept the Debian package, which was there before canopsis"
    fi
}

# debian_package_remove PACKAGE: remove it only if canopsis installed it;
# fails (status 1) when the package is kept.
debian_package_remove() {
    grep -qx "$1" "$STATE/debian-packages" 2>/dev/null || return 1
    apt-get remove -y "$1"
    sed -i "/^$1\$/d" "$STATE/debian-packages"
}
