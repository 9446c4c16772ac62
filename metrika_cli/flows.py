"""How `metrika login` obtains a token: small strategies behind one `obtain(...) -> Grant`.

- `code` (the default): PKCE, the user pastes the code the Yandex page shows (or a token);
- `code` with a loopback `--redirect-uri`: the browser brings the code back, nothing to paste;
- `token`: the implicit flow, the page shows the token itself;
- `device`: a code typed at https://ya.ru/device on any device, polled for (needs the app's secret).

Storing the grant is login's transaction; nothing here stores a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import api, oauth
from .advice import NETWORK
from .app_secret import VARIABLE as SECRET_VARIABLE
from .app_secret import app_secret, known_app_secret
from .env import Env
from .errors import BadInput, Diagnosis, MetrikaError
from .evidence import Reply
from .i18n import _
from .loopback import Listener, check_redirect_uri
from .output import say

LOOPBACK_TIMEOUT = 180.0  # seconds to wait for the browser to come back (tests make it short)
SLOW_DOWN = 5  # seconds added to the device flow's interval on `slow_down`
sleep: Callable[[float], None] = time.sleep  # the device flow's wait (tests replace it)


@dataclass(frozen=True)
class Grant:
    """What a flow obtained: the token, and what goes beside it."""

    token: str
    expires_in: int | None = None
    refresh_token: str | None = None
    device_id: str | None = None
    secret: str | None = field(default=None, repr=False)  # the app's secret it was got with, if any: to revoke it


@dataclass
class Request:
    """What the flows take from login's options."""

    profile: str
    flow: str = "code"
    redirect_uri: str | None = None
    scopes: list[str] = field(default_factory=list)
    login_hint: str | None = None
    force_confirm: bool = False
    no_browser: bool = False


class OAuthUnreachable(MetrikaError):
    diagnosis = Diagnosis.NETWORK_ERROR


class OAuthUnavailable(MetrikaError):
    diagnosis = Diagnosis.SERVICE_UNAVAILABLE


class OAuthUnexpected(MetrikaError):
    diagnosis = Diagnosis.UNEXPECTED_RESPONSE


class CodeRefused(BadInput):
    """The code expired, was used already, or does not match this login's verifier."""


class SecretWanted(BadInput):
    """The app will not exchange a code without its secret (invalid_client, unauthorized_client)."""


def obtain(env: Env, app_id: str, request: Request, paste: Callable[[], str]) -> Grant:
    """A token by the requested flow; `paste` asks for the token flow's pasted text."""
    if request.flow == "token":
        return token_flow(env, app_id, request, paste)
    if request.flow == "device":
        return device_flow(env, app_id, request)
    if request.redirect_uri:
        return loopback_flow(env, app_id, request, paste)
    return code_flow(env, app_id, request, paste)


# ---- showing the address ------------------------------------------------------------------


def show_url(env: Env, url: str, no_browser: bool) -> None:
    """Always print the address (stderr); open it in a browser where one can be seen. Its long runs
    (the challenge, the state, the device_id) are no secrets: shown as they are."""
    env.secrets.allow(url)
    say(env, _('Open this address, sign in as the account whose counters you need, and press "Allow":'))
    say(env, url, style="bold")
    if can_open_browser(env, no_browser):
        import webbrowser

        with contextlib.suppress(Exception):  # a browser that fails to start is not a reason to stop
            webbrowser.open(url)


def can_open_browser(env: Env, no_browser: bool) -> bool:
    import sys

    if no_browser or not env.may_prompt:
        return False
    if env.environ.get("SSH_CONNECTION") or env.environ.get("SSH_TTY"):
        return False
    return not (
        sys.platform.startswith("linux") and not (env.environ.get("DISPLAY") or env.environ.get("WAYLAND_DISPLAY"))
    )


# ---- token flow ---------------------------------------------------------------------------------


def token_flow(env: Env, app_id: str, request: Request, paste: Callable[[], str]) -> Grant:
    """The implicit flow: the Yandex page shows the token, the user pastes it."""
    url = oauth.build_authorize_url(
        env.endpoints.oauth_url, app_id, request.scopes, request.login_hint, request.force_confirm, env.secrets
    )
    show_url(env, url, request.no_browser)
    pasted = oauth.parse_pasted_token(paste(), app_id)
    return Grant(pasted.token, pasted.expires_in)


# ---- code flow ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkce:
    """One authorization's secrets and names: a fresh verifier, its challenge, the state."""

    verifier: str
    challenge: str
    state: str
    device_id: str
    device_name: str

    @classmethod
    def new(cls, env: Env, profile: str) -> Pkce:
        verifier, challenge = oauth.pkce_pair()
        env.secrets.add(verifier)
        host = socket.gethostname() or "localhost"
        return cls(
            verifier, challenge, oauth.new_state(), oauth.device_id(host, profile), oauth.device_name(host, profile)
        )


def code_url(env: Env, app_id: str, request: Request, pkce: Pkce) -> str:
    return oauth.build_authorize_url(
        env.endpoints.oauth_url,
        app_id,
        request.scopes,
        request.login_hint,
        request.force_confirm,
        env.secrets,
        response_type="code",
        code_challenge=pkce.challenge,
        device_id=pkce.device_id,
        device_name=pkce.device_name,
        state=pkce.state,
        redirect_uri=request.redirect_uri,
    )


def code_flow(env: Env, app_id: str, request: Request, paste: Callable[[], str]) -> Grant:
    """Show the address, take the code pasted back (or a token), exchange it; a refused code asks again."""
    pkce = Pkce.new(env, request.profile)
    url = code_url(env, app_id, request, pkce)
    show_url(env, url, request.no_browser)
    while True:
        pasted = oauth.parse_pasted(ask_code(env), app_id)
        if isinstance(pasted, oauth.PastedToken):
            return Grant(pasted.token, pasted.expires_in)
        try:
            return exchange(env, app_id, pasted.code, pkce)
        except CodeRefused as refused:
            say(env, refused.message, style="yellow")
            say(env, _("Open the address again for a new code:"))
            say(env, url, style="bold")
        except SecretWanted as refused:
            return instead_token_flow(env, app_id, request, paste, refused)


PASTE_TRIES = 3  # empty answers, as login's token prompt allows


def ask_code(env: Env) -> str:
    """The code (or token) pasted at the hidden prompt; an empty Enter asks again, three times in all."""
    for _try in range(PASTE_TRIES):
        answer = env.ask(_("Paste the code the page shows (or the whole address of the page) and press Enter: "), True)
        if answer.strip():
            return answer
        say(env, _("Nothing was pasted (the prompt does not show what you paste); Ctrl-C cancels."), style="yellow")
    raise BadInput(_("Nothing was pasted; nothing was stored."))


def instead_token_flow(
    env: Env, app_id: str, request: Request, paste: Callable[[], str], refused: SecretWanted
) -> Grant:
    """The app wants its secret for the code: at a terminal, offer the token flow at once."""
    if not env.may_prompt:
        raise refused
    say(env, refused.message, style="yellow")
    answer = env.ask(_("Continue with the token flow (the page shows the token itself) now? [Y/n] "))
    if answer.strip().lower() not in ("", "y", "yes", "д", "да"):
        raise refused
    return token_flow(env, app_id, request, paste)


def exchange(env: Env, app_id: str, code: str, pkce: Pkce) -> Grant:
    """The code for a token at /token, with the verifier; the app's secret only when it is known."""
    form = {"grant_type": "authorization_code", "code": code, "client_id": app_id, "code_verifier": pkce.verifier}
    secret = known_app_secret(env, app_id)
    if secret:
        form["client_secret"] = secret
    reply = asyncio.run(api.oauth_post(env, "/token", form))
    return dataclasses.replace(grant_from(env, reply, app_id, pkce.device_id), secret=secret)


def grant_from(env: Env, reply: Reply, app_id: str, device_id: str | None) -> Grant:
    """The token answer as a Grant, or the error it is."""
    data = reply.data if isinstance(reply.data, dict) else {}
    token = data.get("access_token")
    if not reply.ok or not isinstance(token, str) or not token:
        raise token_error(env, reply, app_id)
    expires = data.get("expires_in")
    refresh = data.get("refresh_token")
    return Grant(
        token,
        expires if isinstance(expires, int) and not isinstance(expires, bool) and 0 < expires < 10**10 else None,
        refresh if isinstance(refresh, str) and refresh else None,
        device_id,
    )


def token_error(env: Env, reply: Reply, app_id: str) -> MetrikaError:
    """What a failed call to Yandex OAuth means, and what to do; nothing was stored."""
    nothing = _("Nothing was stored.")
    if reply.network:
        what = _(NETWORK.get(reply.network, NETWORK["other"])).format(
            host=reply.host, proxy="", timeout=env.endpoints.timeout
        )
        return OAuthUnreachable(
            _("Network error talking to Yandex OAuth: {what}. {nothing}").format(what=what, nothing=nothing),
            fix=[
                _("Check the network connection, then run `metrika login` again."),
                _("If you set METRIKA_OAUTH_URL, check it."),
            ],
        )
    error = reply.error_type or ""
    description = _described(reply)
    if error in ("invalid_grant", "bad_verification_code"):
        return CodeRefused(
            _("Yandex refused the code ({error}): it has expired (codes live 10 minutes) or was used already.").format(
                error=error
            )
            + description
        )
    if error in ("invalid_client", "unauthorized_client"):
        return secret_wanted(app_id, error, description)
    if reply.status is not None and (reply.status >= 500 or reply.status == 429):
        return OAuthUnavailable(
            _("Yandex OAuth is not answering properly (HTTP {status}). {nothing}").format(
                status=reply.status, nothing=nothing
            ),
            fix=[_("Wait a minute and run `metrika login` again.")],
        )
    if error:
        return BadInput(
            _("Yandex OAuth refused ({error}).").format(error=error) + description + " " + nothing,
            fix=[_("Run `metrika login` again; if it repeats, try `metrika login --flow token`.")],
        )
    return OAuthUnexpected(
        _("Yandex OAuth answered something metrika does not understand (HTTP {status}). {nothing}").format(
            status=reply.status, nothing=nothing
        ),
        fix=[_("Run `metrika login` again; if it repeats, try `metrika login --flow token`.")],
    )


def _described(reply: Reply) -> str:
    data = reply.data if isinstance(reply.data, dict) else {}
    description = data.get("error_description")
    return f" ({description[:200]})" if isinstance(description, str) and description else ""


def secret_wanted(app_id: str, error: str, description: str) -> SecretWanted:
    return SecretWanted(
        _("Yandex would not exchange the code without your app's secret ({error}).").format(error=error)
        + description
        + " "
        + _("Nothing was stored."),
        fix=[
            _("Use the token flow, which needs no secret: `metrika login --flow token`."),
            _('Or give the app\'s secret (from {url}, "Client secret") through {variable} and log in again.').format(
                url=oauth.app_page_url(app_id), variable=SECRET_VARIABLE
            ),
        ],
    )


# ---- loopback ----------------------------------------------------------------------------------


def loopback_flow(env: Env, app_id: str, request: Request, paste: Callable[[], str]) -> Grant:
    """Listen at the loopback Redirect URI (bound before anything opens), let the browser bring the code."""
    assert request.redirect_uri is not None
    target = check_redirect_uri(request.redirect_uri)
    pkce = Pkce.new(env, request.profile)
    with Listener(target, pkce.state) as listener:
        show_url(env, code_url(env, app_id, request, pkce), request.no_browser)
        say(
            env,
            _("Waiting for the browser to come back to {uri} (at most {seconds:g} s; Ctrl-C to stop)…").format(
                uri=request.redirect_uri, seconds=LOOPBACK_TIMEOUT
            ),
        )
        code = listener.wait(LOOPBACK_TIMEOUT)
    try:
        return exchange(env, app_id, code, pkce)
    except SecretWanted as refused:
        return instead_token_flow(env, app_id, request, paste, refused)


# ---- device flow ---------------------------------------------------------------------------------


def device_flow(env: Env, app_id: str, request: Request) -> Grant:
    """A code to type at ya.ru/device on any device; poll until it is approved, refused or expired."""
    secret = app_secret(env, app_id, ask=True, why=_("The device flow needs your app's secret."))
    host = socket.gethostname() or "localhost"
    device = {
        "client_id": app_id,
        "device_id": oauth.device_id(host, request.profile),
        "device_name": oauth.device_name(host, request.profile),
    }
    if request.scopes:
        device["scope"] = " ".join(request.scopes)
    reply = asyncio.run(api.oauth_post(env, "/device/code", device))
    data = reply.data if isinstance(reply.data, dict) else {}
    if not reply.ok or not all(isinstance(data.get(key), str) for key in ("device_code", "user_code")):
        raise token_error(env, reply, app_id)
    url = data.get("verification_url") if isinstance(data.get("verification_url"), str) else "https://ya.ru/device"
    say(env, _("On any device, open {url} and type the code:").format(url=url))
    say(env, "    " + data["user_code"], style="bold")
    say(env, _("Waiting for you to allow access there (Ctrl-C to stop)…"))
    form = {"grant_type": "device_code", "code": data["device_code"], "client_id": app_id, "client_secret": secret}
    grant = poll_device(
        env, app_id, form, _seconds(data.get("interval"), 5), _seconds(data.get("expires_in"), 300), device["device_id"]
    )
    return dataclasses.replace(grant, secret=secret)


def _seconds(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3600 else default


def poll_device(env: Env, app_id: str, form: dict[str, str], interval: int, lifetime: int, device_id: str) -> Grant:
    """Ask /token every `interval` seconds (longer after slow_down) until the code's lifetime is over:
    counted in the waits (so tests need not wait) and, whatever the waits, on the clock too."""
    waited, deadline = 0, time.monotonic() + lifetime
    while True:
        sleep(interval)
        waited += interval
        reply = asyncio.run(api.oauth_post(env, "/token", form))
        if reply.ok:
            return grant_from(env, reply, app_id, device_id)
        error = reply.error_type
        alive = waited < lifetime and time.monotonic() < deadline
        if error in ("authorization_pending", "slow_down") and alive:
            interval += SLOW_DOWN if error == "slow_down" else 0
            continue
        raise device_error(env, reply, app_id, error)


def device_error(env: Env, reply: Reply, app_id: str, error: str | None) -> MetrikaError:
    again = _("Run `metrika login --flow device` again for a new code.")
    if error in ("expired_token", "authorization_pending", "slow_down"):
        return BadInput(_("The code expired before access was allowed. Nothing was stored."), fix=[again])
    if error == "access_denied":
        return BadInput(_("Access was refused on the Yandex page. Nothing was stored."), fix=[again])
    if error in ("invalid_client", "unauthorized_client"):
        return BadInput(
            _("Yandex refused the app's secret ({error}). Nothing was stored.").format(error=error),
            fix=[
                _(
                    'Check the secret on your app\'s page, {url} ("Client secret"), and give it through {variable}.'
                ).format(url=oauth.app_page_url(app_id), variable=SECRET_VARIABLE)
            ],
        )
    return token_error(env, reply, app_id)
