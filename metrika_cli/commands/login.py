"""`metrika login`: get a token through the user's app, verify it, store it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .. import oauth
from ..advice import unknown_profile_words
from ..env import Env
from ..errors import BadInput, Interrupted, MetrikaError
from ..evidence import same_login
from ..i18n import _
from ..keyrings import keyring_unreached, no_keyring_error
from ..loopback import check_redirect_uri
from ..output import render_verdict, say, stored_where, warn
from ..probe import Inquiry, configured_client_id, inspect
from ..revoke import revoke_unstored
from ..store import Profile
from ..text import close_names, fingerprint, shown_name
from ..tokens import Token, chosen_profile, stored_token
from .options import ClientIdOption, ForceConfirmOption, LoginHintOption, ProfileOption, ScopeOption

if TYPE_CHECKING:  # flows brings httpx: imported when a login runs, not when the app is built (Tab, switch)
    from .. import flows

MAX_TOKEN_INPUT = 64 * 1024


class Flow(StrEnum):
    code = "code"
    token = "token"
    device = "device"


@dataclass
class LoginOptions:
    profile: str
    client_id: str | None = None
    with_token: bool = False
    no_browser: bool = False
    scopes: list[str] = field(default_factory=list)
    login_hint: str | None = None
    force_confirm: bool = False
    no_verify: bool = False
    insecure_storage: bool = False
    flow: str = "code"
    redirect_uri: str | None = None
    yes: bool = False


FlowOption = Annotated[
    Flow,
    typer.Option(
        "--flow",
        metavar="FLOW",
        help=_(
            "How to get the token: code (paste the code the Yandex page shows; the default), token (paste "
            "the token itself), device (type a code at ya.ru/device on any device; needs the app's secret)."
        ),
    ),
]
RedirectUriOption = Annotated[
    Optional[str],
    typer.Option(
        "--redirect-uri",
        metavar="URI",
        help=_(
            "With --flow code: catch the code at this loopback address (http://127.0.0.1:PORT/PATH), which "
            "must be your app's Redirect URI; nothing to paste."
        ),
    ),
]

YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        help=_(
            "Create the profile without asking, even if its name is close to a stored one "
            "(without a terminal metrika never asks, and warns)."
        ),
    ),
]


def login(
    ctx: typer.Context,
    profile: ProfileOption = None,
    flow: FlowOption = Flow.code,
    redirect_uri: RedirectUriOption = None,
    client_id: ClientIdOption = None,
    with_token: Annotated[bool, typer.Option("--with-token", help=_("Read the token from standard input."))] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help=_("Do not open a browser; just print the URL."))
    ] = False,
    scope: ScopeOption = None,
    login_hint: LoginHintOption = None,
    force_confirm: ForceConfirmOption = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help=_("Store the token without asking Yandex first."))
    ] = False,
    insecure_storage: Annotated[
        bool,
        typer.Option(
            "--insecure-storage", help=_("Store the token in a plain-text file (0600) even if a keyring exists.")
        ),
    ] = False,
    yes: YesOption = False,
) -> int:
    env: Env = ctx.obj
    try:
        return run(
            env,
            LoginOptions(
                chosen_profile(env),  # --profile, resolved by app.handles_errors
                client_id,
                with_token,
                no_browser,
                list(dict.fromkeys(scope or [])),
                login_hint,
                force_confirm,
                no_verify,
                insecure_storage,
                flow.value,
                redirect_uri,
                yes,
            ),
        )
    except KeyboardInterrupt:  # before the commit, the transaction puts back what was there
        env.stderr.write("\n")
        raise Interrupted(_("Interrupted; nothing was stored.")) from None


def run(env: Env, opts: LoginOptions) -> int:
    saved = env.store.profile(opts.profile)
    _check_input_is_possible(env, opts)
    if not new_profile_agreed(env, opts):
        return 1
    ask = None if opts.with_token or not env.may_prompt else lambda: _ask_client_id(env)
    app_id = configured_client_id(env, lambda: saved.client_id, opts.client_id, ask)
    from .. import flows

    if opts.with_token:
        pasted = oauth.parse_pasted_token(_read_pasted(env, True), app_id)
        grant = flows.Grant(pasted.token, pasted.expires_in)
    else:
        grant = flows.obtain(env, _needed(app_id), _flow_request(opts), lambda: _read_pasted(env, False))
    env.secrets.add(grant.token)
    return _revoked_unless_stored(env, app_id, grant, lambda: _keep(env, opts, saved, app_id, grant))


def _revoked_unless_stored(env: Env, app_id: str | None, grant: flows.Grant, keep: Callable[[], int]) -> int:
    """Keep the grant; when that ends without storing it (exit code or error), a token the code or
    device flow obtained is revoked at Yandex, best effort: it exists only in this process."""
    try:
        code = keep()
    except MetrikaError:
        revoke_unstored(env, grant.token, app_id, grant.device_id, grant.secret)
        raise
    if code != 0:
        revoke_unstored(env, grant.token, app_id, grant.device_id, grant.secret)
    return code


def _keep(env: Env, opts: LoginOptions, saved: Profile, app_id: str | None, grant: flows.Grant) -> int:
    """Verify the grant (unless --no-verify) and store it; any exit code but 0: nothing was stored."""
    plain_text = _choose_storage(env, opts.insecure_storage)
    now = env.now()
    new = Profile(client_id=app_id, scopes=opts.scopes, obtained_at=now.isoformat(timespec="seconds"))
    new.device_id = grant.device_id
    if grant.expires_in:
        new.expires_at = (now + timedelta(seconds=grant.expires_in)).isoformat(timespec="seconds")
    issued_to = None
    if not opts.no_verify:
        report = inspect(env, Token(grant.token, "login"), new, Inquiry(opts.profile))
        verdict, evidence = report.verdict, report.evidence
        if not verdict.ok:
            render_verdict(env, verdict)
            say(env, _("Nothing was stored."))
            return int(verdict.exit_code)
        for line in verdict.warnings:
            warn(env, line)
        identity = evidence.identity.data if evidence.identity and evidence.identity.ok else {}
        new.login, new.uid = identity.get("login"), identity.get("id")
        new.client_id = app_id or identity.get("client_id")
        issued_to = identity.get("client_id")
    if not replacing_agreed(env, opts, saved, new):
        return 1
    env.store.save(opts.profile, grant.token, new, insecure=plain_text, refresh_token=grant.refresh_token)
    line = logged_in_line(env, opts.profile, new, grant.token, not opts.no_verify, issued_to)
    say(env, line, style="green")
    return 0


def _flow_request(opts: LoginOptions) -> flows.Request:
    from .. import flows

    return flows.Request(
        opts.profile,
        opts.flow,
        opts.redirect_uri,
        opts.scopes,
        opts.login_hint,
        opts.force_confirm,
        opts.no_browser,
    )


def _needed(app_id: str | None) -> str:
    """The ClientID a flow needs: without a terminal to ask on, from the option, variable or profile."""
    if app_id is None:
        raise BadInput(
            _("No ClientID: your app's ClientID is needed to ask Yandex for a token."),
            fix=[_("Give it with --client-id or METRIKA_CLIENT_ID (32 hex characters, from your app's page).")],
        )
    return app_id


def replacing_agreed(env: Env, opts: LoginOptions, old: Profile, new: Profile) -> bool:
    """Logging in over a profile of another account: at a terminal, ask first (the default keeps
    the old token); without one (or with --with-token, which never prompts) say whose token goes."""
    if not old.login or (new.login and same_login(old.login, new.login)):
        return True
    old_fp = old.fingerprint
    if not old_fp:
        with contextlib.suppress(MetrikaError):  # what cannot be read is not worth a failure here
            stored = stored_token(env, opts.profile, old)
            old_fp = fingerprint(stored.value) if stored else None
    words = {"login": old.login, "fp": old_fp or _("fingerprint unknown"), "profile": opts.profile, "new": new.login}
    if not env.may_prompt or opts.with_token:
        say(env, _("Replacing the token of {login} ({fp}) in profile {profile}.").format(**words), style="yellow")
        return True
    question = (
        _("Profile {profile} holds the token of {login} ({fp}). Replace it with the token of {new}? [y/N] ")
        if new.login
        else _("Profile {profile} holds the token of {login} ({fp}). Replace it with this unverified token? [y/N] ")
    )
    if env.ask(question.format(**words)).strip().lower() in YES:
        return True
    say(env, _("Kept the token of {login} in profile {profile}; nothing was stored.").format(**words))
    return False


YES = ("y", "yes", "д", "да")


def new_profile_agreed(env: Env, opts: LoginOptions) -> bool:
    """A profile that is not stored while a stored one has a close name (`wrok`, `work`) is a typo,
    most likely: at a terminal, ask before creating it (the default answer creates nothing);
    without one (scripts create profiles by name on purpose), or with --yes, go on, with a warning
    naming the close names unless --yes said so on purpose. A name close to none is simply new."""
    stored = sorted(env.store.profiles())
    unknown = unknown_profile_words(opts.profile, stored) if close_names(opts.profile, stored) else None
    if unknown is None or opts.yes:
        return True
    summary, fix = unknown  # the words every command uses for an unknown profile; fix[0]: "Did you mean …?"
    name = shown_name(opts.profile)
    if not env.may_prompt or opts.with_token:
        warn(env, f"{summary} {fix[0]} " + _("Creating profile {name}.").format(name=name))
        return True
    say(env, f"{summary} {fix[0]}", style="yellow")
    if env.ask(_("Create profile {name}? [y/N] ").format(name=name)).strip().lower() in YES:
        return True
    say(env, _("Nothing was stored."))
    return False


def _check_input_is_possible(env: Env, opts: LoginOptions) -> None:
    if opts.with_token and env.stdin_tty:
        raise BadInput(
            _("--with-token reads the token from standard input, which is a terminal here."),
            fix=[
                _("Pipe it in: `metrika login --with-token < token.txt`."),
                _("Or leave out --with-token to be asked for it."),
            ],
        )
    if opts.redirect_uri and not opts.with_token:
        if opts.flow != "code":
            raise BadInput(_("--redirect-uri goes with --flow code only."))
        check_redirect_uri(opts.redirect_uri)
    pastes = opts.flow == "token" or (opts.flow == "code" and not opts.redirect_uri)
    if not opts.with_token and pastes and not env.may_prompt:
        raise BadInput(
            _("No terminal to paste the code or token on (or CI is set)."),
            fix=[
                _("Log in with a code typed at ya.ru/device on any device: `metrika login --flow device`."),
                _("Or pipe the token in: `printf '%s' \"$TOKEN\" | metrika login --with-token`."),
                _("Or give it to each command through METRIKA_TOKEN or METRIKA_TOKEN_FILE."),
            ],
        )


CLIENT_ID_TRIES = 3


def _ask_client_id(env: Env) -> str:
    """The registration guide once, then the ClientID: an empty answer asks again, and so does a
    typo, saying what is wrong with it, up to three times in all."""
    registration_guide(env)
    tries = 0
    while True:
        answer = env.ask(_("ClientID of your app: ")).strip()
        if not answer:
            continue
        tries += 1
        try:
            return oauth.validate_client_id(answer)
        except BadInput as problem:
            if tries == CLIENT_ID_TRIES:
                raise
            say(env, problem.message, style="yellow")


def registration_guide(env: Env) -> None:
    say(env, _("First, register an app with Yandex (once):"), style="bold")
    for number, step in enumerate(
        [
            _("Open {url} and sign in.").format(url=oauth.APP_REGISTRATION_URL),
            _('Name: anything, e.g. "metrika". Platform: "Web services".'),
            _("Redirect URI: {uri}").format(uri=oauth.REDIRECT_URI),
            _(
                "Data access: Yandex Metrica → metrika:read (statistics, counters); "
                "add metrika:write to change counters."
            ),
            _("Create the app; its page shows the ClientID (32 hex characters)."),
        ],
        1,
    ):
        say(env, f"  {number}. {step}")


def _read_pasted(env: Env, with_token: bool) -> str:
    if with_token:
        text = env.stdin.read(MAX_TOKEN_INPUT + 1)
        if len(text) > MAX_TOKEN_INPUT:
            raise BadInput(_("The input is over 64 KiB: that is not a token, and nothing was stored."))
        return text.removeprefix("\ufeff")  # `< token.txt` saved with a BOM, as METRIKA_TOKEN_FILE allows
    for _try in range(PASTE_TRIES):  # an empty Enter asks again
        answer = env.ask(_("Paste the token (or the whole address of the page) and press Enter: "), hidden=True)
        if answer.strip():
            return answer
        say(env, _("Nothing was pasted (the prompt does not show what you paste); Ctrl-C cancels."), style="yellow")
    raise BadInput(_("Nothing was pasted; nothing was stored."))


PASTE_TRIES = 3


def _choose_storage(env: Env, insecure_storage: bool) -> bool:
    """True for the plain-text file; refuses (exit 7) where neither is possible or allowed."""
    if insecure_storage:
        return True
    if env.store.keyring.available():
        return False
    if env.may_prompt:
        unreached = keyring_unreached()  # installed, but out of reach or not running: how to mend it, first
        said = [unreached.message, *unreached.fix[:1]] if unreached else [_("No OS keyring is available.")]
        say(env, " ".join(said), style="yellow")
        answer = env.ask(
            _("Store the token in plain text in {path} (mode 0600)? [y/N] ").format(path=env.store.credentials_path)
        )
        if answer.strip().lower() in YES:
            return True
    raise no_keyring_error()


def logged_in_line(
    env: Env, name: str, profile: Profile, token: str, verified: bool, issued_to: str | None = None
) -> str:
    """Who logged in, or (--no-verify) that nobody knows yet; with the app the token was issued to
    (Yandex ID's word, else the ClientID given); until when; where the token went."""
    values = {"profile": name, "fp": fingerprint(token), "app": issued_to or profile.client_id or _("unknown")}
    if verified:
        line = _("Logged in as {login} with app {app} (profile {profile}, token {fp}).").format(
            login=profile.login or _("an account Yandex ID did not name"), **values
        )
    else:
        unverified = (
            _("Token {fp} of app {app} is in profile {profile} now, not verified: check it with `{command}`.")
            if profile.client_id
            else _("Token {fp} is in profile {profile} now, not verified: check it with `{command}`.")
        )
        line = unverified.format(command=f"metrika whoami --profile {name}", **values)
    if profile.expires_at:
        line += " " + _("Valid until {date}.").format(date=profile.expires_at[:10])
    return line + " " + stored_where(env, profile.storage)
