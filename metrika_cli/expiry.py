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
    return whole_days((moment - now).total_seconds())


def whole_days(seconds: float) -> int:
    """Days as metrika counts them, rounded up: one hour left is 1 day left."""
    return math.ceil(seconds / 86400)


def expires_in(expires_at: str | None, now: datetime) -> str | None:
    """When the token expires, in words: `in 3 days` (whole days rounded up, as days_left counts
    them), under a day `in 5 hours`, under an hour `in 12 minutes`; None when not recorded."""
    moment = expiry_moment(expires_at)
    if moment is None:
        return None
    seconds = (moment - now).total_seconds()
    if seconds >= 86400:
        days = whole_days(seconds)
        return ngettext("in {count} day", "in {count} days", days).format(count=days)
    if seconds >= 3600:
        hours = int(seconds // 3600)
        return ngettext("in {count} hour", "in {count} hours", hours).format(count=hours)
    if seconds >= 60:
        minutes = int(seconds // 60)
        return ngettext("in {count} minute", "in {count} minutes", minutes).format(count=minutes)
    return _("in less than a minute")


def expiry_warning(name: str, expires_at: str | None, now: datetime, renewable: bool = False) -> str | None:
    """The line to show when the token of profile `name` has WARN_DAYS days left or fewer; a
    renewable one (a refresh token is kept with it) is renewed by `metrika refresh`, no browser."""
    days = days_left(expires_at, now)
    if days is None or days > WARN_DAYS:
        return None
    assert expires_at is not None
    date = expires_at[:10]
    if days <= 0:
        return _("The token of profile {profile} expired on {date}: get a new one with `{command}`.").format(
            profile=name, date=date, command=renew_command(name)
        )
    command = f"metrika refresh --profile {name}" if renewable else renew_command(name)
    return _("The token of profile {profile} expires on {date}, {left}: renew it with `{command}`.").format(
        profile=name, date=date, left=expires_in(expires_at, now), command=command
    )


def renew_command(name: str) -> str:
    return f"metrika login --profile {name}"


def warn_if_expiring(env: Env, name: str, expires_at: str | None, renewable: bool = False) -> None:
    """One line on stderr (plain: this runs on the lean path of `metrika token` too)."""
    line = expiry_warning(name, expires_at, env.now(), renewable)
    if line:
        env.stderr.write(_("warning: {message}").format(message=line) + "\n")
        env.stderr.flush()
