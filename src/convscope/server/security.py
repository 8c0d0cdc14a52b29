"""Who may talk to the server: its own host names, same-origin pages, and the token holder.

One ASGI middleware applies, in order:

1. **Host**: only the names the server answers to (the loopback names unless configured),
   so that a web page whose domain is re-bound to 127.0.0.1 (DNS rebinding) gets 400.
2. **Token**, when ``Settings.auth_token`` is set (``convscope serve --host`` other than
   loopback): every request carries it in ``Authorization: Bearer``, ``X-Convscope-Token``,
   the cookie this middleware sets, or once as ``?token=`` (a page is then redirected to
   the same address without it, the way Jupyter does); otherwise 401.
3. **Origin**: a request that changes state (POST, PUT, PATCH, DELETE) from a browser must
   come from the server's own pages (``Sec-Fetch-Site``, else ``Origin``), unless it
   carries the token in a header; otherwise 403. Any page on the web can send a
   ``text/plain`` POST to a local server; this is what stops it.
4. **Headers** on every response: a Content-Security-Policy that lets the built web app
   run and nothing else, and be framed only by pages of this machine (a notebook's
   ``convscope.show()``), ``X-Frame-Options``, ``nosniff``, ``no-referrer``.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convscope.config import LOOPBACK_HOSTS, Settings

TOKEN_HEADER = "x-convscope-token"
TOKEN_COOKIE = "convscope_token"
TOKEN_QUERY = "token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Pages that may show the web app in a frame: a notebook on this machine (Jupyter on
#: localhost, VS Code's notebooks) for ``convscope.show()``; no other site (clickjacking).
FRAME_ANCESTORS = (
    "'self' http://localhost:* http://127.0.0.1:* https://localhost:* "
    "https://127.0.0.1:* vscode-webview:"
)
#: The built web app: its own scripts only; its own styles, and style attributes (views set
#: sizes and colours inline; styles cannot run code); images from data and blob URLs.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {FRAME_ANCESTORS}"
)
#: FastAPI's interactive docs load Swagger UI or ReDoc from a CDN with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = (
    # For browsers without CSP's frame-ancestors (the others let it decide).
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

_NEEDS_TOKEN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>convscope: access token needed</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>convscope</h1>
<p>This server is reachable from other machines, so it asks for its access token.</p>
<p>Open the address that <code>convscope serve</code> printed when it started: it ends in
<code>?token=...</code>. The browser then remembers the token for this server.</p>
</body></html>
"""


def host_name(host_header: str) -> str:
    """The host name of a ``Host`` header, without the port, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_host_names(settings: Settings) -> frozenset[str] | None:
    """The host names the server answers to, or None for any (``"*"``)."""
    if "*" in settings.allowed_hosts:
        return None
    return frozenset(name.lower() for name in (*LOOPBACK_HOSTS, *settings.allowed_hosts))


class SecurityMiddleware:
    """ASGI middleware: host names, access token, same-origin checks, security headers.

    Args:
        app: The application.
        settings: ``auth_token`` and ``allowed_hosts`` come from here.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.token = settings.auth_token
        self.hosts = allowed_host_names(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or []
        }
        path: str = scope.get("path", "")
        send = _with_security_headers(send, path)
        refusal = self._refusal(scope, headers, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if _same(query.get(TOKEN_QUERY), self.token):
                if scope["method"] == "GET" and not path.startswith("/api/"):
                    await self._remember_token(scope, query)(scope, receive, send)
                    return
                send = _setting_cookie(send, self.token)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str], path: str) -> Response | None:
        host = host_name(headers.get("host", ""))
        if self.hosts is not None and host not in self.hosts:
            return _error(
                400,
                f"this server does not answer to the host name {host!r}; use one of "
                f"{', '.join(sorted(self.hosts))}",
                path,
            )
        header_token = _header_token(headers)
        if self.token is not None and not self._authorised(scope, headers, header_token):
            return _needs_token(path)
        if scope["method"] in UNSAFE_METHODS and not _same(header_token, self.token):
            reason = _cross_origin(headers, scope.get("scheme", "http"))
            if reason:
                return _error(403, f"cross-origin request refused: {reason}", path)
        return None

    def _authorised(self, scope: Scope, headers: dict[str, str], header_token: str | None) -> bool:
        if _same(header_token, self.token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header carries no token
            cookie = SimpleCookie()
        morsel = cookie.get(TOKEN_COOKIE)
        if morsel is not None and _same(morsel.value, self.token):
            return True
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        return _same(query.get(TOKEN_QUERY), self.token)

    def _remember_token(self, scope: Scope, query: dict[str, str]) -> Response:
        # The address bar and the history keep the URL: redirect to it without the token.
        rest = {key: value for key, value in query.items() if key != TOKEN_QUERY}
        target = scope.get("path", "/") + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response.headers, str(self.token))
        return response


def _same(given: str | None, expected: str | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _header_token(headers: dict[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return headers.get(TOKEN_HEADER)


def _cross_origin(headers: dict[str, str], scheme: str) -> str | None:
    """Why a state-changing request does not come from the server's own pages, or None."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        # "none": typed in the address bar or a bookmark, not sent by a page.
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site!r}"
    origin = headers.get("origin")
    if origin is None:
        return None  # not sent by a browser page: curl, scripts, the test client
    expected = f"{scheme}://{headers.get('host', '')}".lower()
    if origin.lower() != expected:
        return f"the page at {origin!r} is not this server"
    return None


def _error(status: int, message: str, path: str) -> Response:
    if path.startswith("/api/") or path == "/api":
        return JSONResponse({"detail": message}, status_code=status)
    return HTMLResponse(f"<!doctype html><p>{html.escape(message)}</p>", status_code=status)


def _needs_token(path: str) -> Response:
    if path.startswith("/api/") or path == "/api" or path == "/openapi.json":
        return JSONResponse(
            {
                "detail": "this server needs its access token: send it as 'Authorization: "
                "Bearer TOKEN' or 'X-Convscope-Token', or open the address that convscope "
                "serve printed"
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HTMLResponse(_NEEDS_TOKEN_PAGE, status_code=401)


def _set_cookie(headers: MutableHeaders, token: str) -> None:
    headers.append(
        "set-cookie", f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
    )


def _setting_cookie(send: Send, token: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            _set_cookie(MutableHeaders(scope=message), token)
        await send(message)

    return wrapped


def _with_security_headers(send: Send, path: str) -> Send:
    csp = DOCS_CSP if path in DOCS_PATHS else APP_CSP

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in _missing(headers, SECURITY_HEADERS):
                headers.append(name.decode(), value.decode())
            if "content-security-policy" not in headers:
                headers.append("content-security-policy", csp)
        await send(message)

    return wrapped


def _missing(
    headers: MutableHeaders, wanted: Iterable[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in wanted if name.decode() not in headers]
