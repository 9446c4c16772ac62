"""The OAuth half of the loopback fake: Yandex OAuth as its documentation describes it.

Mixed into :class:`fake_yandex.FakeYandex`; every path answers the documented bodies:

- ``GET /authorize``: ``response_type=token`` shows a small page (the implicit flow's consent
  page); ``response_type=code`` consents at once, as :attr:`OAuthFake.consent` (an
  :class:`Account` template) or refuses (:attr:`OAuthFake.refuse_consent`), and redirects (302) to
  the given ``redirect_uri`` when the app registered it, else to ``/verification_code?code=…&state=…``.
  The code is 16 letters and digits, single use, lives ``code_lifetime`` seconds on the fake's
  clock (:meth:`OAuthFake.advance`), and remembers the S256 challenge, client_id, device_id and
  device_name, scope.
- ``GET /verification_code``: the page that shows the code.
- ``POST /token``: grants ``authorization_code`` (PKCE S256 checked; an app with
  ``require_secret`` wants its secret), ``refresh_token`` (needs the secret), ``device_code``
  (needs the secret; pending until :meth:`OAuthFake.approve_device`).
- ``POST /device/code``: a device code and the user code to type at https://ya.ru/device.
- ``POST /revoke_token``: needs the secret and a token issued with a device_id; what it revoked
  is in :attr:`OAuthFake.revoked`.

Tokens issued are registered in ``accounts`` like those tests add with ``add_token``. Standard
library only.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import secrets
import string
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

VERIFICATION_PATH = "/verification_code"
DEVICE_URL = "https://ya.ru/device"
CODE_ALPHABET = string.ascii_lowercase + string.digits
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
OAUTH_PATHS = ("/authorize", VERIFICATION_PATH, "/token", "/device/code", "/revoke_token")
OAUTH_POSTS = ("/token", "/device/code", "/revoke_token")


@dataclass
class App:
    """An app registered at oauth.yandex.ru, as the fake knows it."""

    client_id: str
    secret: str = "0123456789abcdef0123456789abcdef"
    redirect_uris: list[str] = field(default_factory=list)  # besides the verification_code page
    require_secret: bool = False  # True: a code exchange without the secret is invalid_client


@dataclass
class Grant:
    """An authorization code or a device code, and what it was asked with."""

    client_id: str
    scope: str = ""
    device_id: str = ""
    device_name: str = ""
    challenge: str = ""
    challenge_method: str = ""
    redirect_uri: str = ""
    created: float = 0.0
    used: bool = False
    user_code: str = ""  # device flow
    state: str = "pending"  # device flow: pending, approved, denied
    polls: int = 0
    scripted: deque[str] = field(default_factory=deque)  # device flow: errors answered first


@dataclass
class Issued:
    """A token the fake issued: its refresh token, app and device."""

    access_token: str
    refresh_token: str
    client_id: str
    device_id: str
    scope: str


class OAuthFake:
    """The OAuth endpoints; FakeYandex inherits them (see the module docstring)."""

    accounts: dict[str, Any]
    _lock: threading.Lock

    def _init_oauth(self) -> None:
        from fake_yandex import Account

        self.apps: dict[str, App] = {}
        self.consent = Account()  # who consents at /authorize?response_type=code
        self.refuse_consent: str | None = None  # e.g. "access_denied": the redirect carries ?error=
        self.codes: dict[str, Grant] = {}
        self.device_codes: dict[str, Grant] = {}
        self.issued: dict[str, Issued] = {}  # by access token
        self.refresh_tokens: dict[str, Issued] = {}  # live refresh tokens
        self.revoked: list[str] = []  # access tokens /revoke_token revoked, in order
        self.code_lifetime = 600.0
        self.device_lifetime = 300
        self.device_interval = 5
        self.device_approve_after: int | None = None  # approve by itself at this poll
        self.token_lifetime: int | None = 31_536_000  # None: answers carry no expires_in
        self.clock_offset = 0.0

    # -- for tests ----------------------------------------------------------------------

    def app(self, client_id: str, **fields: Any) -> App:
        """The app ``client_id`` (registered with defaults on first use); ``fields`` change it."""
        with self._lock:
            app = self.apps.setdefault(client_id, App(client_id))
            for key, value in fields.items():
                setattr(app, key, value)
        return app

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (codes and device codes age)."""
        self.clock_offset += seconds

    def _now(self) -> float:
        return time.monotonic() + self.clock_offset

    def latest_code(self) -> str:
        """The most recent authorization code handed out."""
        with self._lock:
            return list(self.codes)[-1]

    def _device(self, user_code: str | None) -> Grant:
        with self._lock:
            grants = [g for g in self.device_codes.values() if user_code in (None, g.user_code)]
        if not grants:
            raise KeyError(user_code)
        return grants[-1]

    def approve_device(self, user_code: str | None = None) -> None:
        """The user typed the code (default: the latest) and pressed Allow."""
        self._device(user_code).state = "approved"

    def deny_device(self, user_code: str | None = None) -> None:
        self._device(user_code).state = "denied"

    def script_device(self, *errors: str, user_code: str | None = None) -> None:
        """Errors the next polls answer first (``slow_down``, ``expired_token``, ``access_denied``…),
        for the latest device code, or for every later one when none was asked for yet."""
        try:
            self._device(user_code).scripted.extend(errors)
        except KeyError:
            self._pending_script.extend(errors)

    @property
    def _pending_script(self) -> deque[str]:
        if not hasattr(self, "_script_for_next"):
            self._script_for_next: deque[str] = deque()
        return self._script_for_next

    def issue(self, client_id: str, device_id: str = "", scope: str = "", account: Any = None) -> Issued:
        """A new access token and refresh token for ``account`` (default: ``consent``) of that app."""
        token = "y0__" + _random(string.ascii_letters + string.digits + "_-", 49)
        refresh = "1:" + _random(string.ascii_letters + string.digits, 16) + ":" + _random(string.ascii_letters, 40)
        self.app(client_id)
        template = account if account is not None else self.consent
        issued = Issued(token, refresh, client_id, device_id, scope)
        with self._lock:
            self.accounts[token] = dataclasses.replace(template, client_id=client_id)
            self.issued[token] = issued
            self.refresh_tokens[refresh] = issued
        return issued

    # -- answering ------------------------------------------------------------------------

    def _oauth(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        wanted = "POST" if path in OAUTH_POSTS else "GET"
        if method != wanted:
            return self._error(405, "method_not_allowed")  # type: ignore[attr-defined]
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if path == "/authorize":
            return self._authorize(_first(query))
        if path == VERIFICATION_PATH:
            return _verification_page(_first(query))
        if path == "/token":
            return self._token(form)
        if path == "/device/code":
            return self._device_code(form)
        return self._revoke(form)

    def _authorize(self, query: dict[str, str]) -> Any:
        from fake_yandex import Reply, _authorize_page

        if query.get("response_type") != "code":
            return _authorize_page({key: [value] for key, value in query.items()})
        app = self.app(query.get("client_id", ""))
        redirect = query.get("redirect_uri") or ""
        if redirect and redirect not in app.redirect_uris:
            page = "<!doctype html><p>redirect_uri does not match the app's Redirect URI</p>\n"
            return Reply(400, HTML_TYPE, page.encode())
        target = redirect or self.url + VERIFICATION_PATH  # type: ignore[attr-defined]
        state = {"state": query["state"]} if "state" in query else {}
        if self.refuse_consent:
            return _redirect(target, {"error": self.refuse_consent, **state})
        code = _random(string.ascii_letters + string.digits, 16)
        with self._lock:
            self.codes[code] = Grant(
                client_id=app.client_id,
                scope=query.get("scope", ""),
                device_id=query.get("device_id", ""),
                device_name=query.get("device_name", ""),
                challenge=query.get("code_challenge", ""),
                challenge_method=query.get("code_challenge_method", ""),
                redirect_uri=redirect,
                created=self._now(),
            )
        return _redirect(target, {"code": code, **state})

    def _token(self, form: dict[str, str]) -> Any:
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        if grant_type == "device_code":
            return self._poll_device(form)
        return _oauth_error("unsupported_grant_type", "grant_type is not supported")

    def _secret_problem(self, form: dict[str, str], required: bool) -> Any:
        """invalid_client for a wrong secret, or a missing one where it is required; else None."""
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return _oauth_error("invalid_client", "Client not found")
        sent = form.get("client_secret")
        if (sent is not None and sent != app.secret) or (sent is None and required):
            return _oauth_error("invalid_client", "Wrong client secret")
        return None

    def _exchange_code(self, form: dict[str, str]) -> Any:
        app = self.apps.get(form.get("client_id", ""))
        problem = self._secret_problem(form, app is not None and app.require_secret)
        if problem is not None:
            return problem
        with self._lock:
            grant = self.codes.get(form.get("code", ""))
            fresh = grant is not None and not grant.used and self._now() - grant.created < self.code_lifetime
            if grant is not None:
                grant.used = True  # tried once: gone, whatever the outcome
        if grant is None or not fresh or grant.client_id != form.get("client_id"):
            return _oauth_error("invalid_grant", "Code has expired")
        if grant.challenge:
            if _s256(form.get("code_verifier", "")) != grant.challenge:
                return _oauth_error("invalid_grant", "code_verifier not matched")
        elif "client_secret" not in form:
            return _oauth_error("invalid_client", "Client secret is required without PKCE")
        return self._token_answer(self.issue(grant.client_id, grant.device_id, grant.scope))

    def _refresh(self, form: dict[str, str]) -> Any:
        problem = self._secret_problem(form, required=True)
        if problem is not None:
            return problem
        with self._lock:
            old = self.refresh_tokens.get(form.get("refresh_token", ""))
            if old is None or old.client_id != form.get("client_id"):
                return _oauth_error("invalid_grant", "Refresh token expired or revoked")
            del self.refresh_tokens[form["refresh_token"]]
            account = self.accounts.get(old.access_token, self.consent)
        return self._token_answer(self.issue(old.client_id, old.device_id, old.scope, account))

    def _device_code(self, form: dict[str, str]) -> Any:
        from fake_yandex import _json

        if form.get("client_id", "") not in self.apps:
            self.app(form.get("client_id", ""))
        device_code = _random(string.ascii_letters + string.digits, 32)
        user_code = _random(CODE_ALPHABET, 8)
        grant = Grant(
            client_id=form.get("client_id", ""),
            scope=form.get("scope", ""),
            device_id=form.get("device_id", ""),
            device_name=form.get("device_name", ""),
            created=self._now(),
            user_code=user_code,
        )
        with self._lock:
            grant.scripted.extend(self._pending_script)
            self._pending_script.clear()
            self.device_codes[device_code] = grant
        return _json(
            200,
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_url": DEVICE_URL,
                "interval": self.device_interval,
                "expires_in": self.device_lifetime,
            },
        )

    def _poll_device(self, form: dict[str, str]) -> Any:
        problem = self._secret_problem(form, required=True)
        if problem is not None:
            return problem
        with self._lock:
            grant = self.device_codes.get(form.get("code", ""))
            if grant is None or grant.used or grant.client_id != form.get("client_id"):
                return _oauth_error("invalid_grant", "Device code is unknown or used")
            grant.polls += 1
            if grant.scripted:
                return _oauth_error(grant.scripted.popleft(), "scripted")
            if self._now() - grant.created >= self.device_lifetime:
                return _oauth_error("expired_token", "Device code has expired")
            if self.device_approve_after is not None and grant.polls >= self.device_approve_after:
                grant.state = "approved"
            if grant.state == "denied":
                return _oauth_error("access_denied", "The user refused")
            if grant.state != "approved":
                return _oauth_error("authorization_pending", "User has not yet authorized your application")
            grant.used = True
        return self._token_answer(self.issue(grant.client_id, grant.device_id, grant.scope))

    def _revoke(self, form: dict[str, str]) -> Any:
        from fake_yandex import _json

        problem = self._secret_problem(form, required=True)
        if problem is not None:
            return problem
        with self._lock:
            issued = self.issued.get(form.get("access_token", ""))
            if issued is None or not issued.device_id or issued.client_id != form.get("client_id"):
                return _oauth_error("unsupported_token_type", "Token was issued without device_id")
            self.accounts.pop(issued.access_token, None)
            self.issued.pop(issued.access_token, None)
            self.refresh_tokens.pop(issued.refresh_token, None)
            self.revoked.append(issued.access_token)
        return _json(200, {"status": "ok"})

    def _token_answer(self, issued: Issued) -> Any:
        from fake_yandex import _json

        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "refresh_token": issued.refresh_token,
        }
        if self.token_lifetime is not None:
            body["expires_in"] = self.token_lifetime
        return _json(200, body)


def _first(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in query.items()}


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect(target: str, params: dict[str, str]) -> Any:
    from fake_yandex import Reply

    separator = "&" if "?" in target else "?"
    location = f"{target}{separator}{urlencode(params)}"
    return Reply(302, HTML_TYPE, b"", {"Location": location})


def _oauth_error(error: str, description: str, status: int = 400) -> Any:
    from fake_yandex import Reply

    body = json.dumps({"error": error, "error_description": description}).encode()
    return Reply(status, JSON_TYPE, body)


def _verification_page(query: dict[str, str]) -> Any:
    from fake_yandex import Reply

    shown = html.escape(query.get("code") or query.get("error") or "")
    page = f'<!doctype html><html><body><p>Your confirmation code:</p><p id="code">{shown}</p></body></html>\n'
    return Reply(200, HTML_TYPE, page.encode())
