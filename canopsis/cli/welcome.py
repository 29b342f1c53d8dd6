"""Printed by ``build-install.sh --start``: where canopsis answers and what to try first."""

from canopsis.ops import config, paths


def main() -> int:
    server = config.load("webserver")["server"]
    base = f"http://{server['host']}:{server['port']}"
    api = f"{base}/api/v2"
    bin_dir = paths.prefix() / "bin"
    print(f"canopsis is running; the REST API listens on {api}/")
    print(f"  console:    {base}/console/ (log in as admin: {paths.etc('admin-password')})")
    print(f"  check it:   curl {api}/healthcheck")
    print(f"  status:     {bin_dir}/hypcontrol status")
    print(f"  logs:       {bin_dir}/service <program> tail")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
