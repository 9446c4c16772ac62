"""The outside world as one object: environment, streams, terminals, clock, language, store and network.

Commands take an `Env` and touch nothing else of the process, so tests run them in-process
with their own environment, streams and HTTP transport (`Env.for_test`). Cheap to import:
`metrika token` builds one on every call.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from .text import Secrets

if TYPE_CHECKING:
    import gettext

    from .pacing import Pacer
    from .store import Store

KEYRING_TIMEOUT = 5.0  # seconds: a hung D-Bus must not hang the tool
LOCK_TIMEOUT = 10.0  # seconds to wait behind another metrika changing the profiles
SECRET_VARIABLES = ("METRIKA_TOKEN", "METRIKA_CLIENT_SECRET")


def _hidden_prompt(question: str, stream: IO[str]) -> str:
    """getpass, with SIGTERM turned into an interrupt while it runs: getpass then puts the
    terminal's echo back, which a plain kill would leave off."""
    import getpass
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return getpass.getpass(question, stream=stream)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGTERM, previous)


def restore_for_exec(core_limit: tuple[int, int] | None) -> None:
    """Undo what Python changed in this process: it ignores SIGPIPE and SIGXFSZ (an ignored signal
    stays ignored across exec, so `yes | head -1` would end in "Broken pipe"); main.py lowered the
    core limit. Handlers of caught signals (SIGINT) are reset by exec itself."""
    import signal

    for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
        number = getattr(signal, name, None)
        if number is not None:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, signal.SIG_DFL)
    if core_limit is not None:
        with contextlib.suppress(ImportError, OSError, ValueError):
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, core_limit)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):  # a closed stream
        return False


@dataclass(frozen=True)
class Endpoints:
    """The three base URLs the token may go to, and the time limit of each request."""

    api_url: str = "https://api-metrika.yandex.net"
    login_url: str = "https://login.yandex.ru"
    oauth_url: str = "https://oauth.yandex.ru"
    timeout: float = 10.0


@dataclass
class Env:
    environ: Mapping[str, str]
    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    stdin_tty: bool = False
    stdout_tty: bool = False
    stderr_tty: bool = False
    clock: Callable[[], datetime] = utc_now
    transport: Any = None  # an httpx transport for tests; None: the network
    keyring_timeout: float = KEYRING_TIMEOUT
    lock_timeout: float = LOCK_TIMEOUT
    global_profile: str | None = None  # `metrika --profile NAME COMMAND`
    # The command's own --profile and --json, recorded once where the command line is parsed (the
    # app's handles_errors, main.py's lean paths): every failure is reported with them.
    profile_option: str | None = None
    as_json: bool = False
    # The profile a command that acts on one profile acts on: resolved and checked once, by the
    # same dispatch (tokens.resolve_profile), before the command runs; None until then.
    profile: str | None = None
    # The profiles a command that takes many (--profile NAME, repeatable) was given, checked; [] for
    # none (status: every stored profile); None when the command takes no such list.
    profiles: list[str] | None = None
    secrets: Secrets = field(default_factory=Secrets)  # what this run knows: never printed
    core_limit: tuple[int, int] | None = None  # RLIMIT_CORE as found at start, for `metrika exec`
    # Metrika's requests a second per IP, as the pacer keeps it; None: Yandex's (pacing.PER_SECOND).
    # Tests raise it together with the fake's quota, so paced runs take a fraction of the time.
    quota_per_second: float | None = None

    def __post_init__(self) -> None:
        for name in SECRET_VARIABLES:  # known before any command runs: a usage error cannot echo them
            self.secrets.add(self.environ.get(name))

    @classmethod
    def from_process(cls) -> Env:
        return cls(
            os.environ, sys.stdin, sys.stdout, sys.stderr, _isatty(sys.stdin), _isatty(sys.stdout), _isatty(sys.stderr)
        )

    @classmethod
    def for_test(cls, environ: Mapping[str, str], stdin: str = "", **kw: Any) -> Env:
        """Streams in memory, no terminal: what a test passes to a command."""
        return cls(dict(environ), io.StringIO(stdin), io.StringIO(), io.StringIO(), **kw)

    # ---- decisions -------------------------------------------------------------------

    def silence_stdout(self) -> None:
        """Standard output is closed or full: send what is left to /dev/null, so the process ends
        quietly instead of failing again when Python flushes it at exit."""
        if self.stdout is sys.stdout:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    @property
    def may_prompt(self) -> bool:
        """A person at a terminal: prompts and a browser are allowed (never with CI set)."""
        return self.stdin_tty and self.stderr_tty and not self.environ.get("CI")

    def colour(self, stderr: bool) -> bool:
        tty = self.stderr_tty if stderr else self.stdout_tty
        return tty and "NO_COLOR" not in self.environ and self.environ.get("TERM") != "dumb"

    @property
    def debug(self) -> bool:
        return self.environ.get("METRIKA_DEBUG", "") not in ("", "0")

    def now(self) -> datetime:
        return self.clock()

    def exec(self, file: str, argv: list[str], environ: Mapping[str, str]) -> int:
        """Replace this process with `file` (looked up on environ's PATH): returns only where a
        test has swapped this method; raises OSError when the file cannot be run. The command gets
        the process as a shell would give it: default signal dispositions, the core limit found."""
        restore_for_exec(self.core_limit)
        try:
            os.execvpe(file, argv, environ)
        except BaseException:  # not run: this process goes on, as Python had it
            import signal

            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            if self.core_limit is not None:
                restore_for_exec((0, self.core_limit[1]))
            raise

    def ask(self, question: str, hidden: bool = False) -> str:
        """One line from the person at the terminal (hidden: not echoed); Ctrl-D cancels."""
        from .errors import Interrupted
        from .i18n import _

        try:
            if hidden:
                return _hidden_prompt(question, self.stderr)
            self.stderr.write(question)
            self.stderr.flush()
            line = self.stdin.readline()
            if not line:
                raise EOFError
            return line.rstrip("\r\n")
        except EOFError:
            self.stderr.write("\n")
            raise Interrupted(_("Interrupted; nothing was stored.")) from None

    # ---- what commands build from it ---------------------------------------------------

    def pacer(self, burst: int = 1) -> Pacer:
        """A pacer for Metrika's quotas at this Env's rate."""
        from .pacing import PER_SECOND, Pacer

        return Pacer(self.quota_per_second or PER_SECOND, burst=burst)

    @cached_property
    def translations(self) -> gettext.NullTranslations:
        """The user's language, from this Env's environ (METRIKA_LANG, LC_ALL, LC_MESSAGES, LANG)."""
        from .i18n import detect_language, load

        return load(detect_language(self.environ))

    def speaking(self) -> contextlib.AbstractContextManager[None]:
        """Messages in this Env's language while it runs a command (main() enters it)."""
        from .i18n import speaking

        return speaking(self.translations)

    @cached_property
    def store(self) -> Store:
        from .files import config_dir, default_config_dir
        from .store import Store

        folder = config_dir(self.environ)
        self.secrets.allow(str(folder))  # a long folder name is shown in messages as it is
        return Store(
            folder,
            self.environ.get("PYTHON_KEYRING_BACKEND"),
            self.keyring_timeout,
            self.lock_timeout,
            default_config_dir(self.environ) if self.environ.get("METRIKA_CONFIG_DIR") else None,
        )

    @cached_property
    def endpoints(self) -> Endpoints:
        from .i18n import _

        raw_timeout = self.environ.get("METRIKA_TIMEOUT", "10")
        try:
            timeout = float(raw_timeout)
            if not 0 < timeout <= 600:
                raise ValueError
        except ValueError:
            from .errors import BadInput
            from .text import shown

            raise BadInput(
                _(
                    "METRIKA_TIMEOUT is the time limit of each request in seconds: more than 0 and at most 600, "
                    "fractions allowed (e.g. 30 or 2.5); got {value!r}."
                ).format(value=shown(raw_timeout, 20)),
                fix=[_("Set it to such a number, or unset it for the default of 10 seconds.")],
            ) from None
        return Endpoints(
            api_url=self._base_url("METRIKA_API_URL", Endpoints.api_url),
            login_url=self._base_url("METRIKA_LOGIN_URL", Endpoints.login_url),
            oauth_url=self._base_url("METRIKA_OAUTH_URL", Endpoints.oauth_url),
            timeout=timeout,
        )

    @cached_property
    def deadline(self) -> float | None:
        """When the command must be over, in time.monotonic() seconds: METRIKA_DEADLINE seconds
        after the command starts (the app asks for it first thing); None when it is not set."""
        import time

        from .errors import BadInput
        from .i18n import _

        raw = self.environ.get("METRIKA_DEADLINE", "")
        if not raw:
            return None
        try:
            seconds = float(raw)
            if not 0 < seconds <= 86400:
                raise ValueError
        except ValueError:
            raise BadInput(
                _("METRIKA_DEADLINE must be a number of seconds between 0 and 86400; got {value!r}.").format(
                    value=raw[:20]
                )
            ) from None
        return time.monotonic() + seconds

    def time_left(self) -> float:
        """Seconds left before METRIKA_DEADLINE (infinity without one)."""
        import time

        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _base_url(self, variable: str, default: str) -> str:
        """A base URL the token may go to: https, or plain http to this machine only (tests)."""
        from urllib.parse import urlsplit

        from .errors import BadInput
        from .i18n import _
        from .text import hide_userinfo, is_loopback, shown

        value = (self.environ.get(variable) or default).rstrip("/")
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:  # a port out of range, a broken IPv6 address
            parts, port_ok = urlsplit(""), False
        secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))
        if secure and parts.hostname and port_ok and not (parts.username or parts.password):
            return value
        raise BadInput(
            _(
                "{variable} must be an https:// address without a user or password (plain http only to this "
                "machine); got {url}. Nothing was sent."
            ).format(variable=variable, url=shown(hide_userinfo(value), 200)),  # cut after redaction
            fix=[_("Correct {variable}, or unset it to use {default}.").format(variable=variable, default=default)],
        )
