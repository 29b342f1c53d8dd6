# supervisord from the virtual environment, configured by $PREFIX/etc/supervisord.conf.

supervisor_install() {
    test -x "$PREFIX/venv/bin/supervisord"
    test -f "$PREFIX/etc/supervisord.conf"
    summary "supervisor $("$PREFIX/venv/bin/supervisord" --version)"
}

supervisor_remove() {
    summary "supervisor: nothing left to remove"
}
