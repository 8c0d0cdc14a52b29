"""``python -m convscope.server --host 127.0.0.1 --port 8000 --store DIR --workers 1``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server."""
    parser = argparse.ArgumentParser(
        prog="python -m convscope.server", description="Run the convscope web server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    parser.add_argument("--store", default=None, help="store directory (default: ~/.convscope)")
    parser.add_argument("--workers", type=int, default=None, help="training worker processes")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve a non-loopback --host without an access token (anyone can use it)",
    )
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in the store)")
    parser.add_argument(
        "--executor", choices=["local", "ray"], default=None, help="where runs train"
    )
    parser.add_argument("--ray-address", default=None, help="Ray cluster (default: local)")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 0:
        parser.error("--workers must be 0 or more")

    from convscope.server.app import serve

    serve(
        host=args.host,
        port=args.port,
        store_dir=args.store,
        workers=args.workers,
        no_auth=args.no_auth,
        database_url=args.db,
        executor=args.executor,
        ray_address=args.ray_address,
    )


# Guarded: spawned worker processes import this module again under another name.
if __name__ == "__main__":
    main()
