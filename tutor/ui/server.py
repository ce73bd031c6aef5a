"""HTTP-level protection around the Gradio app (ASGI middleware; no Gradio import).

- `InertPages`: every response carries a Content-Security-Policy that lets the page load
  and connect only to the server it came from. Rendering already keeps notes inert (see
  render.py); the policy is the second wall: if some text ever slipped through as markup,
  the browser would still fetch nothing from another host.
- `ThrottledLogins`: every login attempt goes through a `LoginThrottle` keyed by the user
  name and by the client address; while a key waits, the attempt is refused without
  looking at the password. The address is the socket's: the app trusts no proxy headers
  unless FORWARDED_ALLOW_IPS names the proxy (see tutor.ui.app).
"""
from __future__ import annotations

import json
import math

from starlette.requests import Request

from ..limits import LoginThrottle

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",  # Gradio's page boots from inline scripts
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
))
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-dns-prefetch-control", b"off"),  # links in notes are not even looked up
)
MAX_LOGIN_BODY = 16 * 1024


class InertPages:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class ThrottledLogins:
    """One throttle per user name (5 free failures) and one per address, more lenient (20):
    a class behind one NAT address shares it, and one learner's typos must not lock the
    others out."""

    def __init__(self, app, users: LoginThrottle | None = None, addresses: LoginThrottle | None = None) -> None:
        self.app = app
        self.users = users or LoginThrottle(free_attempts=5)
        self.addresses = addresses or LoginThrottle(free_attempts=20)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/").rsplit("/", 1)[-1] != "login":
            return await self.app(scope, receive, send)
        body = b""
        while True:  # the form is tiny; read it whole so the user name can be keyed
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                return await _reply(send, 413, "login form too large")
            if not message.get("more_body"):
                break
        user = await _form_user(scope, body)
        address = (scope.get("client") or ("unknown", 0))[0]
        user_key, address_key = f"user:{user}", f"address:{address}"
        # counted as failed on admission, until it succeeds (no await in between: atomic)
        wait = max(self.users.wait(user_key), self.addresses.wait(address_key))
        if wait == 0:
            self.users.admit(user_key)
            self.addresses.admit(address_key)
        if wait > 0:
            # 400 like a wrong password: the login page shows its usual message
            return await _reply(send, 400, f"Too many failed logins for this user or address; "
                                           f"try again in {math.ceil(wait)} s")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                self.users.succeeded(user_key)
                self.addresses.forgive(address_key)
            await send(message)

        return await self.app(scope, replay, watch)


async def _form_user(scope, body: bytes) -> str:
    """The user name in a login form (the page sends multipart, scripts urlencoded)."""
    async def once():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form()
        return str(form.get("username") or "").strip()
    except Exception:  # a malformed form: Gradio answers it; only the address is keyed
        return ""


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
