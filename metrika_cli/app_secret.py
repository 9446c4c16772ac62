"""The app's secret (Yandex calls it the client secret): where it comes from, in one place.

METRIKA_CLIENT_SECRET > kept in the keyring for that ClientID > asked (hidden) at a terminal,
then kept if the user agrees. Every secret read is registered on env.secrets, so it is never
printed; it never goes into config, JSON or argv.
"""

from __future__ import annotations

from .env import Env
from .errors import BadInput, MetrikaError
from .i18n import _
from .oauth import app_page_url
from .output import say

VARIABLE = "METRIKA_CLIENT_SECRET"
YES = ("", "y", "yes", "д", "да")


def known_app_secret(env: Env, client_id: str) -> str | None:
    """The secret from the environment or the keyring, without asking anyone; None if neither has it.
    A keyring that cannot be read counts as not having it (the caller asks or explains)."""
    value = env.environ.get(VARIABLE, "").strip()
    if not value:
        try:
            value = env.store.app_secret(client_id) or ""
        except MetrikaError:
            value = ""
    if value:
        env.secrets.add(value)
    return value or None


def app_secret(env: Env, client_id: str, ask: bool, why: str = "") -> str:
    """The app's secret; asked at a terminal when `ask` and allowed; else BadInput (exit 2) naming
    METRIKA_CLIENT_SECRET and the app's page. `why`: what it is needed for, said first."""
    known = known_app_secret(env, client_id)
    if known:
        return known
    if ask and env.may_prompt:
        return _ask_and_offer_to_keep(env, client_id, why)
    raise missing_secret(client_id, why)


def missing_secret(client_id: str, why: str = "") -> BadInput:
    message = _("This needs your app's secret (client secret), and metrika has none.")
    return BadInput(
        f"{why} {message}".strip(),
        fix=[
            _('Copy it from your app\'s page, {url} ("Client secret"), and give it through {variable}.').format(
                url=app_page_url(client_id), variable=VARIABLE
            ),
            _("Or run the command at a terminal: metrika asks for it there (hidden) and can keep it in the keyring."),
        ],
    )


def _ask_and_offer_to_keep(env: Env, client_id: str, why: str) -> str:
    if why:
        say(env, why)
    say(env, _('Your app\'s secret is on its page: {url} ("Client secret").').format(url=app_page_url(client_id)))
    value = ""
    while not value:  # an empty answer asks again; Ctrl-D cancels
        value = env.ask(_("App's secret (not shown as you type): "), hidden=True).strip()
    env.secrets.add(value)
    if env.store.keyring.available():
        answer = env.ask(
            _("Keep it in the keyring for app {app}, so that you are not asked again? [Y/n] ").format(app=client_id)
        )
        if answer.strip().lower() in YES:
            env.store.keep_app_secret(client_id, value)
            say(env, _("Kept in the keyring."))
    return value
