# The Python virtual environment in $PREFIX/venv with canopsis' dependencies.

PYTHON=/usr/bin/python3

# The dependencies of setup.cfg, one a line.
python_requirements() {
    "$PYTHON" - "$SRC/setup.cfg" <<'PY'
import configparser, sys
cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
print("\n".join(line for line in cfg["options"]["install_requires"].splitlines() if line.strip()))
PY
}

python_env_install() {
    apt_install python3 python3-venv
    local venv=$PREFIX/venv wanted stamp=$PREFIX/venv/.canopsis-requirements
    wanted=$( { python_requirements; echo "setuptools wheel"; } )
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        summary "python env $("$venv/bin/python" -V | cut -d' ' -f2) (present)"
        return 0
    fi
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    # shellcheck disable=SC2046
    "$venv/bin/pip" install --quiet setuptools wheel $(python_requirements | tr '\n' ' ')
    printf '%s\n' "$wanted" > "$stamp"
    chmod -R a+rX "$venv"
    changed
    summary "python env $("$venv/bin/python" -V | cut -d' ' -f2)"
}

python_env_remove() {
    rm -rf "$PREFIX/venv"
    summary "python env removed"
}
