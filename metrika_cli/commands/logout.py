"""`metrika logout`: forget stored tokens and metadata."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import oauth
from ..env import Env
from ..errors import BadInput, MetrikaError
from ..i18n import _, ngettext
from ..output import render_verdict, say, steps, warn
from ..text import shown_name, with_profile
from ..tokens import chosen_profile, fix_profile, unknown_profile
from .options import ProfileOption


def logout(
    ctx: typer.Context,
    profile: ProfileOption = None,
    all_profiles: Annotated[bool, typer.Option("--all", help=_("Forget every profile."))] = False,
    yes: Annotated[bool, typer.Option("--yes", help=_("Do not ask before forgetting every profile (--all)."))] = False,
    revoke: Annotated[
        bool,
        typer.Option("--revoke", help=_("Revoke the token at Yandex first; forget it only when that succeeded.")),
    ] = False,
) -> int:
    env: Env = ctx.obj
    return run(env, "" if all_profiles else chosen_profile(env), all_profiles, yes, revoke)  # --profile: resolved


def run(env: Env, profile: str, all_profiles: bool, yes: bool = False, revoke: bool = False) -> int:
    store = env.store
    names = sorted(store.profiles()) if all_profiles else [profile]
    if all_profiles and names and not yes and not all_agreed(env, names):
        say(env, _("Nothing was forgotten."))
        return 1
    if revoke:
        return revoke_and_forget(env, names)
    forgotten = store.forget(names)
    if forgotten and store.config().get("active_profile") in forgotten:
        store.set_active(None)  # `metrika switch` chose a profile that is gone: back to the default
    if not forgotten:
        nothing_stored(env, profile, all_profiles)
    for name in forgotten:
        say(env, _("Forgot the token of profile {profile}.").format(profile=shown_name(name)), style="green")
    say(
        env,
        _("A token stays valid until it expires or you revoke it: {url} (Yandex ID → Data access).").format(
            url=oauth.DATA_ACCESS_URL
        ),
    )
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set, and metrika still uses it."))
    return 0


def revoke_and_forget(env: Env, names: list[str]) -> int:
    """`--revoke`: each token revoked at Yandex first; only the revoked ones (and profiles with
    nothing stored) are forgotten, the others kept, each with why and how to revoke it by hand."""
    from ..revoke import revoke_tokens

    forgettable, kept = revoke_tokens(env, names)
    try:
        forgotten = env.store.forget(forgettable) if forgettable else []
    except MetrikaError as exc:  # revoked at Yandex, still stored here: dead, and said so
        exc.message = _("Revoked at Yandex, but not forgotten here: {reason}").format(reason=exc.message)
        exc.fix.append(with_profile(_("Then forget it: `metrika logout`."), forgettable[0], fix_profile(env)))
        raise
    if forgotten and env.store.config().get("active_profile") in forgotten:
        env.store.set_active(None)  # `metrika switch` chose a profile that is gone: back to the default
    for name in forgotten:
        say(
            env,
            _("Revoked the token of profile {profile} and forgot it.").format(profile=shown_name(name)),
            style="green",
        )
    for name in forgettable:
        if name not in forgotten:
            nothing_stored(env, name, all_profiles=False)
    implicit = fix_profile(env)
    for name, verdict in kept:
        verdict.summary = with_profile(verdict.summary, name, implicit)
        verdict.fix = [with_profile(step, name, implicit) for step in verdict.fix]
        render_verdict(env, verdict)
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set, and metrika still uses it."))
    codes = {int(verdict.exit_code) for _name, verdict in kept}
    return codes.pop() if len(codes) == 1 else 1 if codes else 0


LISTED = 10  # profiles named in the question; the rest are counted


def all_agreed(env: Env, names: list[str]) -> bool:
    """`logout --all` at a terminal asks first (the default answer forgets nothing); without
    one, it needs --yes, as `gh repo delete` does: a script says so on purpose."""
    if not env.may_prompt:
        raise BadInput(
            _("logout --all forgets every profile; without a terminal to ask on, it needs --yes."),
            fix=[_("Run `metrika logout --all --yes`.")],
        )
    listed = ", ".join(shown_name(name) for name in names[:LISTED])
    if len(names) > LISTED:
        listed += " " + _("and {count} more").format(count=len(names) - LISTED)
    question = ngettext(
        "Forget the token and metadata of {count} profile ({names})? [y/N] ",
        "Forget the tokens and metadata of all {count} profiles ({names})? [y/N] ",
        len(names),
    ).format(count=len(names), names=listed)
    return env.ask(question).strip().lower() in ("y", "yes", "д", "да")


def nothing_stored(env: Env, profile: str, all_profiles: bool) -> None:
    """Nothing to forget: say so, and name the closest stored profiles when this one is a typo."""
    if all_profiles:
        say(env, _("No profile is stored."))
        return
    say(env, _("Nothing was stored for profile {profile}.").format(profile=profile))
    unknown = unknown_profile(env, profile)
    if unknown:
        steps(env, [with_profile(step, profile, fix_profile(env)) for step in unknown[1]])
