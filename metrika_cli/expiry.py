"""When a stored token expires: days left, and the one warning before it bites.

Expiry is known only from `expires_at`, recorded at login from what Yandex said (`expires_in`);
where it is not recorded it is unknown, never guessed, and nothing warns. Cheap to import:
`metrika token` warns too.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .i18n import _, ngettext

if TYPE_CHECKING:
    from .env import Env

WARN_DAYS = 14  # a stored token with this many days left or fewer is worth a line on stderr


def expiry_moment(expires_at: str | None) -> datetime | None:
    """`expires_at` as an aware datetime; None when not recorded or not readable."""
    if not expires_at:
        return None
    try:
        moment = datetime.fromisoformat(expires_at)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def days_left(expires_at: str | None, now: datetime) -> int | None:
    """Whole days until expiry, rounded up (one hour left is 1); 0 or less once expired."""
    moment = expiry_moment(expires_at)
    if moment is None:
        return None
    return math.ceil((moment - now).total_seconds() / 86400)


def expiry_warning(name: str, expires_at: str | None, now: datetime) -> str | None:
    """The line to show when the token of profile `name` has WARN_DAYS days left or fewer."""
    days = days_left(expires_at, now)
    if days is None or days > WARN_DAYS:
        return None
    assert expires_at is not None
    date = expires_at[:10]
    if days <= 0:
        return _("The token of profile {profile} expired on {date}: get a new one with `{command}`.").format(
            profile=name, date=date, command=renew_command(name)
        )
    return ngettext(
        "The token of profile {profile} expires on {date}, in {days} day: renew it with `{command}`.",
        "The token of profile {profile} expires on {date}, in {days} days: renew it with `{command}`.",
        days,
    ).format(profile=name, date=date, days=days, command=renew_command(name))


def renew_command(name: str) -> str:
    return f"metrika login --profile {name}"


def warn_if_expiring(env: Env, name: str, expires_at: str | None) -> None:
    """One line on stderr (plain: this runs on the lean path of `metrika token` too)."""
    line = expiry_warning(name, expires_at, env.now())
    if line:
        env.stderr.write(_("warning: {message}").format(message=line) + "\n")
        env.stderr.flush()
