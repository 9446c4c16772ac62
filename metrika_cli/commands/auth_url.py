"""`metrika auth-url`: the authorize URL alone on stdout."""

from __future__ import annotations

import typer

from .. import oauth
from ..errors import BadInput
from ..i18n import _
from ..probe import configured_client_id
from ..tokens import chosen_profile
from .options import ClientIdOption, ForceConfirmOption, LoginHintOption, ProfileOption, ScopeOption


def auth_url(
    ctx: typer.Context,
    profile: ProfileOption = None,
    client_id: ClientIdOption = None,
    scope: ScopeOption = None,
    login_hint: LoginHintOption = None,
    force_confirm: ForceConfirmOption = False,
) -> int:
    env = ctx.obj
    name = chosen_profile(env)  # --profile, resolved by app.handles_errors
    app_id = configured_client_id(env, lambda: env.store.profile(name).client_id, client_id)
    if not app_id:
        raise BadInput(
            _("No ClientID: give --client-id, set METRIKA_CLIENT_ID, or run `metrika login` once."),
            fix=[_("Register an app at {url} to get one.").format(url=oauth.APP_REGISTRATION_URL)],
        )
    url = oauth.build_authorize_url(
        env.endpoints.oauth_url, app_id, list(scope or []), login_hint, force_confirm, secrets=env.secrets
    )
    env.stdout.write(url + "\n")
    return 0
