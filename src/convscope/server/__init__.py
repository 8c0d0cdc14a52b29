"""The web server: a JSON API, live run events, and the built web app.

``create_app`` and ``serve`` are imported on first use, so that importing this package
(as a spawned worker process does) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convscope.server.app import create_app as create_app
    from convscope.server.app import serve as serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from convscope.server import app

        return getattr(app, name)
    raise AttributeError(f"module 'convscope.server' has no attribute {name!r}")
