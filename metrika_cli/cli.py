"""The Typer app: options, prompts, which exit code. The only module that imports typer."""

from __future__ import annotations

import functools
import getpass
import math
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Optional

import click
import typer

from . import __version__, oauth
from .diagnose import Diagnosis, Evidence
from .errors import BadInput, ExitCode, MetrikaError
from .i18n import _
from .output import (base_document, emit_json, error, fingerprint, register_secret, render_checks,
                     render_diagnosis, say, steps, warn)
from .main import print_token, shadow_warning
from .store import PROFILE_PATTERN, Profile, Store, Token, keyring_available, no_keyring_error, resolve_token

MAX_TOKEN_INPUT = 64 * 1024

app = typer.Typer(
    name="metrika",
    help=_("Get, keep and diagnose Yandex Metrika API OAuth tokens."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a pretty traceback would show local variables: tokens
    context_settings={"help_option_names": ["-h", "--help"]},
    # click 8.4+ suggests close command names itself, through gettext (so in Russian too);
    # Typer's suggestion is English only and would say the same thing twice.
    suggest_commands=not hasattr(click, "NoSuchCommand"),
)

ProfileOption = Annotated[str, typer.Option(
    "--profile", envvar="METRIKA_PROFILE", show_envvar=False, metavar="NAME",
    help=_("Profile to use (env: METRIKA_PROFILE)."))]
JsonOption = Annotated[bool, typer.Option("--json", help=_("Print one JSON object on stdout, for scripts."))]
ClientIdOption = Annotated[Optional[str], typer.Option(
    "--client-id", metavar="ID", help=_("Your app's ClientID, 32 hex characters (env: METRIKA_CLIENT_ID)."))]
ScopeOption = Annotated[Optional[list[str]], typer.Option(
    "--scope", metavar="S", help=_("Ask for this right only, e.g. metrika:read (repeatable)."))]
LoginHintOption = Annotated[Optional[str], typer.Option(
    "--login-hint", metavar="L", help=_("Pre-fill this Yandex login on the consent page."))]
ForceConfirmOption = Annotated[bool, typer.Option(
    "--force-confirm", help=_("Always show the consent page (lets you switch account)."))]


def _version(value: bool) -> None:
    if value:
        print(f"metrika {__version__}")
        raise typer.Exit()


@app.callback(help=_("Get, keep and diagnose Yandex Metrika API OAuth tokens."))
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help=_("Show the version and exit."))] = False,
) -> None:
    pass


# ---- plumbing --------------------------------------------------------------------------

def interactive() -> bool:
    """A person at a terminal: prompts and a browser are allowed."""
    return sys.stdin.isatty() and sys.stderr.isatty() and not os.environ.get("CI")


def checked_profile(name: str) -> str:
    if not PROFILE_PATTERN.fullmatch(name):
        raise BadInput(_("A profile name is letters, digits, '.', '_', '-' or '@', up to 64; got {name!r}.").format(
            name=name[:80]))
    return name


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn every outcome into a message (or one JSON object) and its exit code; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        as_json = kwargs.get("as_json", False)
        profile = kwargs.get("profile", "default")
        try:
            command(*args, **kwargs)
        except MetrikaError as exc:
            fail(exc.diagnosis, exc.exit_code, exc.message, exc.fix, as_json, profile)
        except KeyboardInterrupt:
            say("", stderr=True)
            fail("interrupted", ExitCode.INTERRUPTED, _("Interrupted; nothing was stored."), [], as_json, profile)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # the last line of defence: a message, not a traceback
            frame = exc.__traceback__
            while frame and frame.tb_next:
                frame = frame.tb_next
            where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
            fail("internal_error", ExitCode.ERROR,
                 _("Unexpected error {kind} at {where}.").format(kind=exc.__class__.__name__, where=where),
                 [_("Please report it with the output of the same command run with METRIKA_DEBUG=1.")],
                 as_json, profile)

    return wrapper


def fail(diagnosis: str, code: int, message: str, fix: list[str], as_json: bool, profile: str) -> None:
    if as_json:
        emit_json(base_document(diagnosis, code, profile, message, fix))
    else:
        error(message)
        steps(fix)
    raise typer.Exit(int(code))


def configured_client_id(profile: Profile) -> str | None:
    value = os.environ.get("METRIKA_CLIENT_ID") or profile.client_id
    return oauth.validate_client_id(value) if value else None


def parse_counter_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not part.isdigit() or int(part) == 0:
                raise BadInput(_("A counter ID is a positive whole number; got {value!r}.").format(value=part[:40]))
            ids.append(int(part))
    return list(dict.fromkeys(ids))


def collect(token: Token | None, profile: Profile, counter_ids: list[int], need: str,
            expected_login: str | None, all_pages: bool) -> tuple[Diagnosis, Evidence]:
    """Gather the evidence for a token (concurrently) and diagnose it."""
    from .api import Endpoints, gather_evidence, proxy_for
    from .diagnose import diagnose

    endpoints = Endpoints.from_env()
    evidence = Evidence(
        token_source=token.source if token else None,
        counter_ids=counter_ids, need=need, expected_login=expected_login,
        expected_client_id=configured_client_id(profile), scopes=profile.scopes,
        proxy=proxy_for(endpoints.api_url), timeout=endpoints.timeout,
    )
    if token:
        register_secret(token.value)
        evidence.token_problem = oauth.token_problem(token.value, evidence.expected_client_id)
    if token and not evidence.token_problem:
        evidence.identity, evidence.metrika, evidence.counters = gather_evidence(
            endpoints, token.value, counter_ids, all_pages)
    return diagnose(evidence), evidence


def identity_of(evidence: Evidence) -> dict[str, Any] | None:
    reply = evidence.identity
    return reply.data if reply is not None and reply.ok and isinstance(reply.data, dict) else None


def describe_storage(profile: Profile, store: Store) -> str:
    if profile.storage == "file":
        return _("in plain text in {path}").format(path=store.credentials_path)
    return _("in the OS keyring (service metrika-cli)")


# ---- login -----------------------------------------------------------------------------

def registration_guide() -> None:
    say(_("First, register an app with Yandex (once):"), style="bold")
    for number, step in enumerate([
        _("Open {url} and sign in.").format(url=oauth.APP_REGISTRATION_URL),
        _("Name: anything, e.g. \"metrika\". Platform: \"Web services\"."),
        _("Redirect URI: {uri}").format(uri=oauth.REDIRECT_URI),
        _("Data access: Yandex Metrica → metrika:read (statistics, counters); add metrika:write to change counters."),
        _("Create the app; its page shows the ClientID (32 hex characters)."),
    ], 1):
        say(f"  {number}. {step}")


def can_open_browser(no_browser: bool) -> bool:
    if no_browser or not interactive():
        return False
    if os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return True


def read_pasted(with_token: bool) -> str:
    if with_token:
        return sys.stdin.read(MAX_TOKEN_INPUT)
    return getpass.getpass(_("Paste the token (or the whole address of the page) and press Enter: "))


def ask_plain_text_consent(store: Store) -> bool:
    say(_("No OS keyring is available."), style="yellow")
    answer = input(_("Store the token in plain text in {path} (mode 0600)? [y/N] ").format(
        path=store.credentials_path)) if sys.stdin.isatty() else ""
    return answer.strip().lower() in ("y", "yes", "д", "да")


def choose_storage(store: Store, insecure_storage: bool) -> bool:
    """True for the plain-text file; refuses (exit 7) where neither is possible or allowed."""
    if insecure_storage:
        return True
    if keyring_available():
        return False
    if interactive() and ask_plain_text_consent(store):
        return True
    raise no_keyring_error()


@app.command(help=_("Get a token through your app and store it in the OS keyring."))
@handles_errors
def login(
    profile: ProfileOption = "default",
    client_id: ClientIdOption = None,
    with_token: Annotated[bool, typer.Option("--with-token", help=_("Read the token from standard input."))] = False,
    no_browser: Annotated[bool, typer.Option("--no-browser", help=_("Do not open a browser; just print the URL."))] = False,
    scope: ScopeOption = None,
    login_hint: LoginHintOption = None,
    force_confirm: ForceConfirmOption = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help=_("Store the token without asking Yandex first."))] = False,
    insecure_storage: Annotated[bool, typer.Option(
        "--insecure-storage", help=_("Store the token in a plain-text file (0600) even if a keyring exists."))] = False,
) -> None:
    name = checked_profile(profile)
    store = Store()
    saved = store.profile(name)
    if with_token and sys.stdin.isatty():
        raise BadInput(_("--with-token reads the token from standard input, which is a terminal here."),
                       fix=[_("Pipe it in: `metrika login --with-token < token.txt`."),
                            _("Or leave out --with-token to be asked for it.")])
    if not with_token and not interactive():
        raise BadInput(_("No terminal to ask for the token on (or CI is set)."),
                       fix=[_("Pipe the token in: `printf '%s' \"$TOKEN\" | metrika login --with-token`."),
                            _("Or give it to each command through METRIKA_TOKEN or METRIKA_TOKEN_FILE.")])
    raw_client_id = client_id or os.environ.get("METRIKA_CLIENT_ID") or saved.client_id
    if not raw_client_id and not with_token:
        registration_guide()
        raw_client_id = input(_("ClientID of your app: "))
    app_id = oauth.validate_client_id(raw_client_id) if raw_client_id else None
    scopes = list(dict.fromkeys(scope or []))
    if not with_token:
        assert app_id is not None
        from .api import Endpoints

        url = oauth.build_authorize_url(Endpoints.from_env().oauth_url, app_id, scopes, login_hint, force_confirm)
        say(_("Open this address, sign in as the account whose counters you need, and press \"Allow\":"))
        say(url, style="bold")
        if can_open_browser(no_browser):
            import webbrowser

            try:
                webbrowser.open(url)
            except Exception:  # a browser that fails to start is not a reason to stop
                pass
    pasted = oauth.parse_pasted_token(read_pasted(with_token), app_id)
    register_secret(pasted.token)
    plain_text = choose_storage(store, insecure_storage)
    new = Profile(client_id=app_id, scopes=scopes, obtained_at=_now().isoformat(timespec="seconds"))
    if pasted.expires_in:
        new.expires_at = (_now() + timedelta(seconds=pasted.expires_in)).isoformat(timespec="seconds")
    if not no_verify:
        diagnosis, evidence = collect(Token(pasted.token, "login"), new, [], "read", None, all_pages=False)
        if not diagnosis.ok:
            render_diagnosis(diagnosis)
            say(_("Nothing was stored."))
            raise typer.Exit(int(diagnosis.exit_code))
        for line in diagnosis.warnings:
            warn(line)
        identity = identity_of(evidence) or {}
        new.login, new.uid = identity.get("login"), identity.get("id")
        new.client_id = app_id or identity.get("client_id")
    store.save(name, pasted.token, new, insecure=plain_text)
    say(logged_in_line(name, new, pasted.token, store), style="green")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def logged_in_line(name: str, profile: Profile, token: str, store: Store) -> str:
    who = profile.login or _("an unverified account")
    line = _("Logged in as {login} with app {app} (profile {profile}, token {fp}).").format(
        login=who, app=profile.client_id or _("unknown"), profile=name, fp=fingerprint(token))
    if profile.expires_at:
        line += " " + _("Valid until {date}.").format(date=profile.expires_at[:10])
    return line + " " + _("Stored {where}.").format(where=describe_storage(profile, store))


@app.command("auth-url", help=_("Print the authorize URL alone on stdout (to send to a client, or open elsewhere)."))
@handles_errors
def auth_url(
    profile: ProfileOption = "default",
    client_id: ClientIdOption = None,
    scope: ScopeOption = None,
    login_hint: LoginHintOption = None,
    force_confirm: ForceConfirmOption = False,
) -> None:
    from .api import Endpoints

    raw = client_id or os.environ.get("METRIKA_CLIENT_ID") or Store().profile(checked_profile(profile)).client_id
    if not raw:
        raise BadInput(_("No ClientID: give --client-id, set METRIKA_CLIENT_ID, or run `metrika login` once."),
                       fix=[_("Register an app at {url} to get one.").format(url=oauth.APP_REGISTRATION_URL)])
    print(oauth.build_authorize_url(Endpoints.from_env().oauth_url, raw, list(scope or []), login_hint, force_confirm))


# ---- token, logout ---------------------------------------------------------------------

@app.command(help=_("Print the stored token (the only command that ever prints it)."))
@handles_errors
def token(
    profile: ProfileOption = "default",
    header: Annotated[bool, typer.Option("--header", help=_("Print `Authorization: OAuth <token>`."))] = False,
) -> None:
    raise typer.Exit(print_token(checked_profile(profile), header))


@app.command(help=_("Forget the stored token and the profile's metadata."))
@handles_errors
def logout(
    profile: ProfileOption = "default",
    all_profiles: Annotated[bool, typer.Option("--all", help=_("Forget every profile."))] = False,
) -> None:
    store = Store()
    names = sorted(store.profiles()) if all_profiles else [checked_profile(profile)]
    forgotten = store.forget(names)
    if not forgotten:
        say(_("Nothing was stored for profile {profile}.").format(profile=", ".join(names) or profile))
    for name in forgotten:
        say(_("Forgot the token of profile {profile}.").format(profile=name), style="green")
    say(_("A token stays valid until it expires or you revoke it: {url} (Yandex ID → Data access).").format(
        url=oauth.DATA_ACCESS_URL))
    if os.environ.get("METRIKA_TOKEN") or os.environ.get("METRIKA_TOKEN_FILE"):
        warn(_("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set and is still used."))


# ---- whoami, check-access --------------------------------------------------------------

def _resolve(name: str, store: Store) -> tuple[Token | None, Profile]:
    token, profile = resolve_token(store, name)
    if token:
        register_secret(token.value)
        shadow_warning(store, name, token, profile)
    return token, profile


def _document(diagnosis: Diagnosis, evidence: Evidence, name: str, token: Token | None) -> dict[str, Any]:
    document = base_document(diagnosis.code, diagnosis.exit_code, name, diagnosis.summary, diagnosis.fix,
                             (token.source, token.value) if token else None, identity_of(evidence))
    document["warnings"] = diagnosis.warnings
    document["checks"] = [{"name": c.name, "status": c.status, "detail": c.detail} for c in diagnosis.checks]
    return document


@app.command(help=_("Who the token belongs to, which app issued it, where it is kept, when it expires."))
@handles_errors
def whoami(profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    name = checked_profile(profile)
    store = Store()
    token, saved = _resolve(name, store)
    diagnosis, evidence = collect(token, saved, [], "read", None, all_pages=True)
    identity = identity_of(evidence) or {}
    expected = configured_client_id(saved)
    matches = None if not (expected and identity) else identity.get("client_id", "").lower() == expected
    expires_at = saved.expires_at if token and token.source in ("keyring", "file") else None
    days_left = None
    if expires_at:
        seconds_left = (datetime.fromisoformat(expires_at) - datetime.now(timezone.utc)).total_seconds()
        days_left = math.ceil(seconds_left / 86400)
    by_permission: dict[str, int] = {}
    for counter in evidence.counters.values():
        key = str(counter.get("permission"))
        by_permission[key] = by_permission.get(key, 0) + 1
    if as_json:
        document = _document(diagnosis, evidence, name, token)
        document.pop("checks")
        document.update(client_id_matches=matches, expires_at=expires_at, days_left=days_left,
                        counters={"total": len(evidence.counters), "by_permission": by_permission})
        emit_json(document)
        raise typer.Exit(int(diagnosis.exit_code))
    if not diagnosis.ok:
        render_diagnosis(diagnosis)
        raise typer.Exit(int(diagnosis.exit_code))
    assert token is not None
    rows = [
        (_("login"), f"{identity.get('login')} (uid {identity.get('id')})"),
        (_("app"), str(identity.get("client_id")) + (
            "" if matches is None else " " + (_("(your ClientID)") if matches else _("(not your ClientID {id})").format(id=expected)))),
        (_("token"), f"{fingerprint(token.value)}, {token.source}"
         + (f" ({describe_storage(saved, store)})" if token.source in ("keyring", "file") else "")),
        (_("expires"), _("{date}, in {days} days").format(date=expires_at[:10], days=days_left) if expires_at
         else _("unknown (not recorded at login)")),
        (_("counters"), ", ".join(f"{count} {perm}" for perm, count in sorted(by_permission.items()))
         or _("none")),
    ]
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        say(f"{label:<{width}}  {value}", stderr=False)
    for line in diagnosis.warnings:
        warn(line)
    if days_left is not None and days_left < 30:
        warn(_("The token expires in {days} days: run `metrika login` to renew it.").format(days=days_left))


def check_access(
    counter_ids: Annotated[Optional[list[str]], typer.Argument(metavar="[COUNTER_ID]...",
                                                               help=_("Counters to check access to."))] = None,
    profile: ProfileOption = "default",
    need: Annotated[str, typer.Option("--need", metavar="read|write",
                                      help=_("Access level to require on the counters."))] = "read",
    login_name: Annotated[Optional[str], typer.Option("--login", metavar="LOGIN",
                                                      help=_("The account the token must belong to."))] = None,
    as_json: JsonOption = False,
) -> None:
    name = checked_profile(profile)
    if need not in ("read", "write"):
        raise BadInput(_("--need is read or write; got {value!r}.").format(value=need[:20]))
    ids = parse_counter_ids(counter_ids or [])
    store = Store()
    token, saved = _resolve(name, store)
    expected_login = login_name or (saved.login if token and token.source in ("keyring", "file") else None)
    diagnosis, evidence = collect(token, saved, ids, need, expected_login, all_pages=False)
    if as_json:
        document = _document(diagnosis, evidence, name, token)
        reply = evidence.metrika
        document["api"] = {"status": reply.status, "error_type": reply.error_type} if reply and reply.status else None
        document["counters"] = [{"id": c.id, "name": c.name, "permission": c.permission, "ok": c.ok}
                                for c in diagnosis.counters]
        emit_json(document)
    else:
        render_checks(diagnosis, stderr=False)
        say("", stderr=False)
        render_diagnosis(diagnosis, stderr=False)
    raise typer.Exit(int(diagnosis.exit_code))


CHECK_ACCESS_HELP = _("Run the API checks and say exactly why a token does not work, with the fix (alias: check).")
app.command("check-access", help=CHECK_ACCESS_HELP)(handles_errors(check_access))
app.command("check", hidden=True, help=CHECK_ACCESS_HELP)(handles_errors(check_access))
