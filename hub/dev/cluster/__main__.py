"""``python -m hub.dev.cluster fetch``: fetch the Ignite jars once and print their directory."""

from __future__ import annotations

import sys

from .errors import JarFetchError
from .jars import ensure_jars


def _main(argv: list[str]) -> int:
    if argv[:1] == ["fetch"]:
        try:
            print(ensure_jars())
        except JarFetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m hub.dev.cluster fetch", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
