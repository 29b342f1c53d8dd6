# Debian's collectd with the amqp write plugin, run by supervisord.

collectd_install() {
    local was_there=1
    dpkg-query -W -f='${Status}' collectd-core 2>/dev/null | grep -q "install ok installed" || was_there=0
    # amqp.so needs librabbitmq and yajl, which collectd-core only suggests.
    apt_install collectd-core librabbitmq4 libyajl2
    if [ "$was_there" = 0 ] && [ -d /run/systemd/system ] && systemctl is-enabled collectd >/dev/null 2>&1; then
        systemctl disable --now collectd
        note "disabled the system collectd service: canopsis runs its own"
    fi
    test -f /usr/lib/collectd/amqp.so
    install -d -o "$CANOPSIS_USER" -g "$CANOPSIS_USER" -m 750 "$PREFIX/var/lib/collectd"
    local how=present
    [ "$was_there" = 0 ] && how=installed
    summary "collectd-core $(package_version collectd-core) ($how)"
}

collectd_remove() {
    rm -rf "$PREFIX/var/lib/collectd"
    if debian_package_remove collectd-core; then
        summary "collectd-core removed"
    else
        summary "collectd-core: kept the Debian package, which was there before canopsis"
    fi
}
