"""Which profile, which token: resolving and printing it, for the lean path and the app alike."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .env import Env
from .errors import BadInput, MetrikaError, NoToken, TokenMalformed
from .i18n import _
from .os_errors import os_reason
from .store import PROFILE_PATTERN, ActiveProfileError, Profile
from .text import fingerprint, looks_like_token, shown

MAX_TOKEN_FILE = 64 * 1024


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # env:METRIKA_TOKEN, env:METRIKA_TOKEN_FILE, keyring, file

    @property
    def stored(self) -> bool:
        return self.source in ("keyring", "file")


def checked_profile(name: str) -> str:
    """A profile name as the store accepts it; a token given by mistake is named only by fingerprint."""
    if not PROFILE_PATTERN.fullmatch(name) or looks_like_token(name):
        raise BadInput(
            _("A profile name is up to 64 letters, digits, '.', '_', '-' or '@'; got {name!r}.").format(
                name=shown(name, 80)
            )
        )
    return name


def profile_name(env: Env, option: str | None = None) -> str:
    """The profile in use: --profile (after or before the command) > METRIKA_PROFILE > the one
    `metrika switch` recorded > default. The one place that decides it, for the lean path too."""
    return option or env.global_profile or implicit_profile(env)


def resolve_profile(env: Env) -> str:
    """The profile the command acts on, resolved (profile_name) and checked (checked_profile) once,
    where the command line is parsed: the app's handles_errors and main.py's lean paths call it
    before the command runs, and the command reads `env.profile` (or `chosen_profile`)."""
    env.profile = checked_profile(profile_name(env, env.profile_option))
    return env.profile


def resolve_profiles(env: Env, options: list[str] | None) -> list[str]:
    """The profiles a command that takes many was given (each --profile, else the global one),
    each checked, once: the dispatch's, as resolve_profile is for one."""
    names = options or ([env.global_profile] if env.global_profile else [])
    env.profiles = [checked_profile(name) for name in dict.fromkeys(names)]
    return env.profiles


def named_profiles(env: Env, options: list[str] | None) -> list[str]:
    """env.profiles, as the dispatch resolved them; resolved now for a command run without one."""
    return env.profiles if env.profiles is not None else resolve_profiles(env, options)


def chosen_profile(env: Env) -> str:
    """env.profile, as the dispatch resolved it; resolved now for a command run without one."""
    return env.profile if env.profile is not None else resolve_profile(env)


def nothing_stored() -> NoToken:
    """status and refresh with no profile stored: a login to run as it is, then a named one."""
    return NoToken(
        _("No profile is stored yet."),
        [
            _("Log in to store one: `{command}`.").format(command="metrika login"),
            _("To give it a name of your own instead: `metrika login --profile NAME`, with that name for NAME."),
        ],
    )


def command_failed(env: Env, exc: BaseException) -> int:
    """Any failure of a command as its message or one JSON object, and its exit code: with the
    profile and --json recorded on the Env. The one path, for the app and the lean path alike."""
    from .output import report_failure

    return report_failure(env, exc, reported_profile(env), env.as_json, fix_profile(env))


def reported_profile(env: Env) -> str:
    """The profile a failure's JSON document names: "default" when the name itself cannot be
    read (a broken config or a bad name), since the failure being reported comes first."""
    try:
        return shown(env.profile or profile_name(env, env.profile_option), 80)
    except Exception:
        return "default"


def implicit_profile(env: Env) -> str:
    """The profile metrika picks when no --profile is given: METRIKA_PROFILE > `switch` > default.
    A fix that names a command for this profile needs no --profile."""
    return env.environ.get("METRIKA_PROFILE") or switched_profile(env) or "default"


def fix_profile(env: Env) -> str:
    """implicit_profile, for the words of a fix: "" when it cannot be known (then every command a
    fix names carries its --profile, which is right whatever metrika would pick)."""
    try:
        return implicit_profile(env)
    except Exception:  # a broken config: the failure being reported says so
        return ""


def switched_profile(env: Env) -> str | None:
    """The active profile recorded in config.toml. A config that cannot be read is reported by
    whatever reads the profile next, with its file and line; an active_profile that is not a
    stored profile's name is reported here: the default profile's token is not what was chosen.
    An environment token needs no config, so with one the choice is not checked."""
    try:
        return env.store.active_profile()
    except ActiveProfileError:
        if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
            return None
        raise
    except Exception:  # a corrupt config, no home: whatever reads the profile next says so
        return None


def stored_token(env: Env, name: str, profile: Profile) -> Token | None:
    """The profile's stored token, if it is the one its metadata describes."""
    store = env.store
    if profile.storage == "keyring":
        value = store.keyring_token(name, profile)
    elif profile.storage == "file":
        value = store.file_token(name)
    else:
        return None
    return recorded_token(name, profile, value)


def recorded_token(name: str, profile: Profile, value: str | None) -> Token | None:
    """A token read from where `profile` keeps it, if it is the one its metadata describes."""
    if not value or profile.storage not in ("keyring", "file"):
        return None
    if profile.fingerprint and fingerprint(value) != profile.fingerprint:
        raise NoToken(
            _(
                "The token stored for profile {profile} ({found}) is not the one its metadata describes ({recorded}): "
                "it was changed outside this profile's login (by another program, or a login cut short), and metrika "
                "does not use it."
            ).format(profile=name, found=fingerprint(value), recorded=profile.fingerprint),
            fix=[_("Log in again: `metrika login --profile {profile}`.").format(profile=name)],
        )
    return Token(value, profile.storage)


def resolve_token(env: Env, name: str) -> tuple[Token | None, Profile]:
    """The token in use, first wins: METRIKA_TOKEN, METRIKA_TOKEN_FILE, the profile's stored one.
    An environment token needs nothing else: no home, no readable config, no keyring."""
    value = env.environ.get("METRIKA_TOKEN")
    file_name = env.environ.get("METRIKA_TOKEN_FILE")
    if value or file_name:
        token = (
            Token(value, "env:METRIKA_TOKEN")
            if value
            else Token(read_token_file(Path(file_name or "")), "env:METRIKA_TOKEN_FILE")
        )
        env.secrets.add(token.value)
        try:
            return token, env.store.profile(name)
        except MetrikaError:
            return token, Profile()
    profile = env.store.profile(name)
    stored = stored_token(env, name, profile)
    if stored:
        env.secrets.add(stored.value)
    return stored, profile


def read_token_file(path: Path) -> str:
    """The token in the file METRIKA_TOKEN_FILE names: a regular file, at most 64 KiB, a UTF-8 BOM allowed."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file reads as usual
        fd = os.open(path.expanduser(), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise BadInput(
                    _("The token file {path} (from METRIKA_TOKEN_FILE) is not a regular file.").format(path=path)
                )
            data = handle.read(MAX_TOKEN_FILE + 1)
        if len(data) > MAX_TOKEN_FILE:
            raise BadInput(
                _("The token file {path} (from METRIKA_TOKEN_FILE) is too large to hold a token.").format(path=path)
            )
        return data.decode("utf-8").removeprefix("\ufeff").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            _("Cannot read the token file {path} (from METRIKA_TOKEN_FILE): {error}.").format(
                path=path, error=os_reason(exc)
            )
        ) from None


def shadow_warning(env: Env, name: str, token: Token, profile: Profile) -> None:
    """An environment token that hides a different stored one is worth a line on stderr. Decided
    from the fingerprint config.toml records: the keyring is not asked (it may hang)."""
    if token.stored or not profile.fingerprint or fingerprint(token.value) == profile.fingerprint:
        return
    from .output import warn

    warn(
        env,
        _("{source} ({fp}) is used instead of the token stored for profile {profile} ({stored}).").format(
            source=token.source[4:], fp=fingerprint(token.value), profile=name, stored=profile.fingerprint
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

        warn_if_expiring(env, name, profile.expires_at, profile.renewable)
    return token, profile


def usable_token(env: Env, name: str) -> tuple[Token, Profile]:
    """The token in use for a command that hands it on (token, exec, api): there must be one,
    and it must be able to be a token."""
    from .oauth import describe_problem, describe_source, token_problem

    token, profile = token_in_use(env, checked_profile(name))
    if token is None:
        unknown = unknown_profile(env, name)
        if unknown:
            raise NoToken(*unknown)
        raise NoToken(
            _("No token for profile {profile}: run `metrika login` (or set METRIKA_TOKEN).").format(profile=name)
        )
    problem = token_problem(token.value)
    if problem:
        raise TokenMalformed(
            _("The value from {source} cannot be a token: {reason}.").format(
                source=describe_source(token.source), reason=describe_problem(problem)
            )
        )
    return token, profile


def stored_profiles(env: Env) -> list[str] | None:
    """The names of the stored profiles; None when config.toml cannot be read (its reader says why)."""
    try:
        return sorted(env.store.profiles())
    except MetrikaError:
        return None


def unknown_profile(env: Env, name: str) -> tuple[str, list[str]] | None:
    """(message, fix) when `name` is no stored profile while others are: a typo, most likely."""
    from .advice import unknown_profile_words

    return unknown_profile_words(name, stored_profiles(env) or [])


def print_token(env: Env, name: str, header: bool) -> int:
    """Print the token in use: the only place metrika ever prints one. Returns the exit code."""
    token, _profile = usable_token(env, name)
    env.stdout.write((f"Authorization: OAuth {token.value}" if header else token.value) + "\n")
    env.stdout.flush()
    return 0
