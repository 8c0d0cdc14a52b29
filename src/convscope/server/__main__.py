"""``python -m convscope.server``: the same as ``convscope serve``, with the same options."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Parse the command line as ``convscope serve`` does, and run the server."""
    from convscope.cli import main as cli_main

    code = cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])
    if code:
        sys.exit(code)


# Guarded: spawned worker processes import this module again under another name.
if __name__ == "__main__":
    main()
