"""`python3 -m intake_relay --config FILE`: one relay run; prints a JSON summary line; exit 0, or 1 with one line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pymysql

from intake_relay.config import load_config
from intake_relay.errors import RelayError
from intake_relay.relay import run_once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake_relay", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("/etc/motorcade/intake-relay.json"))
    args = parser.parse_args(argv)
    try:
        summary = run_once(load_config(args.config))
    except RelayError as error:
        print(f"intake-relay: {error}", file=sys.stderr)
        return 1
    except pymysql.MySQLError as error:
        print(f"intake-relay: database: {error.args[-1] if error.args else error}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
