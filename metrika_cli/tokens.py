"""Which profile, which token: resolving and printing it, for the lean path and the app alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .env import Env
from .errors import BadInput, MetrikaError, NoToken, TokenMalformed
from .i18n import _
from .store import PROFILE_PATTERN, Profile, os_reason


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # env:METRIKA_TOKEN, env:METRIKA_TOKEN_FILE, keyring, file

    @property
    def stored(self) -> bool:
        return self.source in ("keyring", "file")


def checked_profile(name: str) -> str:
    if not PROFILE_PATTERN.fullmatch(name):
        raise BadInput(
            _("A profile name is letters, digits, '.', '_', '-' or '@', up to 64; got {name!r}.").format(name=name[:80])
        )
    return name


def profile_name(env: Env, option: str | None = None) -> str:
    """The profile in use: --profile (after or before the command) > METRIKA_PROFILE > the one
    `metrika switch` recorded > default. The one place that decides it, for the lean path too."""
    return option or env.global_profile or env.environ.get("METRIKA_PROFILE") or switched_profile(env) or "default"


def switched_profile(env: Env) -> str | None:
    """The active profile recorded in config.toml; never fails (a corrupt config is reported
    by whatever reads the profile next, with its file and line)."""
    try:
        return env.store.active_profile()
    except MetrikaError:
        return None


def stored_token(env: Env, name: str, profile: Profile) -> Token | None:
    store = env.store
    if profile.storage == "keyring":
        value = store.keyring.get(name)
        return Token(value, "keyring") if value else None
    if profile.storage == "file":
        value = store.file_token(name)
        return Token(value, "file") if value else None
    return None


def resolve_token(env: Env, name: str) -> tuple[Token | None, Profile]:
    """The token in use, first wins: METRIKA_TOKEN, METRIKA_TOKEN_FILE, the profile's stored one."""
    profile = env.store.profile(name)
    value = env.environ.get("METRIKA_TOKEN")
    if value:
        token: Token | None = Token(value, "env:METRIKA_TOKEN")
    elif env.environ.get("METRIKA_TOKEN_FILE"):
        token = Token(read_token_file(Path(env.environ["METRIKA_TOKEN_FILE"])), "env:METRIKA_TOKEN_FILE")
    else:
        token = stored_token(env, name, profile)
    if token:
        env.secrets.add(token.value)
    return token, profile


def read_token_file(path: Path) -> str:
    try:
        return path.expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            _("Cannot read the token file named by METRIKA_TOKEN_FILE ({path}): {error}").format(
                path=path, error=os_reason(exc)
            )
        ) from None


def shadow_warning(env: Env, name: str, token: Token, profile: Profile) -> None:
    """An environment token that hides a different stored one is worth a line on stderr."""
    if token.stored or not profile.storage:
        return
    try:
        stored = stored_token(env, name, profile)
    except MetrikaError:
        return
    if stored and stored.value != token.value:
        from .output import fingerprint, warn

        warn(
            env,
            _("{source} ({fp}) is used instead of the token stored for profile {profile} ({stored}).").format(
                source=token.source[4:], fp=fingerprint(token.value), profile=name, stored=fingerprint(stored.value)
            ),
        )


def token_in_use(env: Env, name: str) -> tuple[Token | None, Profile]:
    """resolve_token, and say so when an environment token hides a stored one, or when the
    stored one expires within expiry.WARN_DAYS days."""
    token, profile = resolve_token(env, name)
    if token:
        shadow_warning(env, name, token, profile)
    if token and token.stored:
        from .expiry import warn_if_expiring

        warn_if_expiring(env, name, profile.expires_at)
    return token, profile


def print_token(env: Env, name: str, header: bool) -> int:
    """Print the token in use: the only place metrika ever prints one. Returns the exit code."""
    from .oauth import describe_problem, token_problem

    token, _profile = token_in_use(env, checked_profile(name))
    if token is None:
        raise NoToken(
            _("No token for profile {profile}: run `metrika login` (or set METRIKA_TOKEN).").format(profile=name)
        )
    problem = token_problem(token.value)
    if problem:
        raise TokenMalformed(
            _("The token from {source} cannot be a token: {reason}.").format(
                source=token.source, reason=describe_problem(problem)
            )
        )
    env.stdout.write((f"Authorization: OAuth {token.value}" if header else token.value) + "\n")
    env.stdout.flush()
    return 0
