"""Configuration files: configobj files in ``$PREFIX/etc`` checked against a spec.

Each file ``etc/<name>.conf`` has its spec in ``canopsis/specs/<name>.spec``.
A value of the wrong type, a missing key or an unknown key raises
:class:`ConfigError` with one line naming the file, the key and what was
expected, so a service fails at start instead of deep inside a worker.
"""

import re
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from configobj import ConfigObj, ConfigObjError, flatten_errors, get_extra_values
from configobj.validate import Validator

from canopsis.ops import paths

# The key naming the external server that replaces a program with managed = false.
EXTERNAL_KEY = {"amqp": "url", "mongo": "uri"}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message is one line."""


def spec_lines(name: str) -> list[str]:
    text = resources.files("canopsis").joinpath("specs", f"{name}.spec").read_text()
    return text.splitlines()


def load(name: str, path: Path | None = None, spec: list[str] | None = None) -> ConfigObj:
    """Read and validate ``etc/<name>.conf`` (or ``path``) against its spec (or ``spec``,
    configobj spec lines)."""
    path = path or paths.etc(f"{name}.conf")
    try:
        cfg = ConfigObj(
            str(path),
            configspec=spec_lines(name) if spec is None else spec,
            file_error=True,
            interpolation=False,
            encoding="utf-8",
        )
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ConfigObjError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    result = cfg.validate(Validator(), preserve_errors=True)
    problems = []
    for sections, key, error in flatten_errors(cfg, result):
        where = ".".join([*sections, key]) if key else ".".join(sections)
        if key is None:
            problems.append(f"section [{where}] is missing")
            continue
        spec = _spec_of(cfg.configspec, sections, key)
        if error is False:
            problems.append(f"{where}: missing, expected {spec}")
        else:
            value = _value_of(cfg, sections, key)
            problems.append(f"{where} = {value!r}: expected {spec}")
    external = EXTERNAL_KEY.get(name)
    if external and cfg.get("managed") is False and not cfg.get(external):
        problems.append(f"{external}: required when managed = false")
    if name == "mongo" and cfg.get("managed") is True and not cfg.get("password"):
        problems.append("password: required when managed = true (canopsis' user on the server)")
    for sections, key in get_extra_values(cfg):
        where = ".".join([*sections, key])
        problems.append(f"{where}: unknown key")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return cfg


def _spec_of(spec: ConfigObj, sections: list[str], key: str) -> str:
    for section in sections:
        spec = spec.get(section) or spec.get("__many__", {})
    check = str(spec.get(key, "a valid value"))
    return re.sub(r",?\s*default=[^,)]*", "", check).replace("()", "")


def _value_of(cfg: ConfigObj, sections: list[str], key: str) -> object:
    for section in sections:
        cfg = cfg[section]
    return cfg.get(key)


def amqp_url(cfg: ConfigObj) -> str:
    """The broker URL from ``amqp.conf``: ``url`` when unmanaged, else built from its keys."""
    if not cfg["managed"]:
        return cfg["url"]
    user, password, vhost = (quote(cfg[key], safe="") for key in ("user", "password", "vhost"))
    return f"amqp://{user}:{password}@{cfg['host']}:{cfg['port']}/{vhost}"


def mongo_uri(cfg: ConfigObj) -> str:
    """The MongoDB URI from ``mongo.conf``: ``uri`` when unmanaged, else the local server
    with the canopsis user's credentials (a user of the ``admin`` database, the default
    authentication database of a URI without a path)."""
    if not cfg["managed"]:
        return cfg["uri"]
    user, password = (quote(cfg[key], safe="") for key in ("user", "password"))
    return f"mongodb://{user}:{password}@{cfg['host']}:{cfg['port']}/"


def load_chain() -> list[str]:
    """The engines every event goes through, in order: ``chain`` in ``etc/engines.conf``."""
    path = paths.etc("engines.conf")
    order = [name.strip() for name in load("engines", path)["chain"]]
    twice = sorted({name for name in order if order.count(name) > 1})
    if twice or not all(order):
        why = f"{', '.join(twice)} twice" if twice else "an empty name"
        raise ConfigError(f"{path}: chain = {', '.join(order)}: {why}")
    return order
