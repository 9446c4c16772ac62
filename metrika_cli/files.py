"""Private files: the config folder, TOML files read and replaced atomically, who may own and
open them, and the lock that serialises the commands that change them.

Nothing here knows what the files hold (profiles, tokens) or that a keyring exists: store.py
decides that, on top of this module and keyrings.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, StoreUnavailable
from .i18n import _
from .os_errors import os_reason

FOLDER_NAME = "metrika-cli"  # the config folder's name under the user's config home


def config_dir(environ: Mapping[str, str]) -> Path:
    try:
        explicit = environ.get("METRIKA_CONFIG_DIR")
        if explicit:
            return Path(explicit).expanduser()
        if sys.platform.startswith("linux"):  # what platformdirs answers, without its import on every `metrika token`
            xdg = environ.get("XDG_CONFIG_HOME", "")
            return (Path(xdg) if xdg.strip() else Path("~/.config").expanduser()) / FOLDER_NAME
        import platformdirs  # type: ignore[unreachable,unused-ignore]  # (mypy checks for Linux only)

        return Path(platformdirs.user_config_dir(FOLDER_NAME, appauthor=False, roaming=True))
    except RuntimeError:  # no HOME, and a user id that passwd does not know (docker run --user 4242)
        raise ConfigError(
            _("There is no home folder to keep the config in."),
            fix=[
                _(
                    "Set METRIKA_CONFIG_DIR (or HOME) to a folder of your own, or give the token through "
                    "METRIKA_TOKEN, which needs no config."
                )
            ],
        ) from None


def default_config_dir(environ: Mapping[str, str]) -> Path | None:
    """The config folder metrika uses when METRIKA_CONFIG_DIR is not set; None when there is none."""
    try:
        return config_dir({key: value for key, value in environ.items() if key != "METRIKA_CONFIG_DIR"})
    except ConfigError:
        return None


# ---- files -----------------------------------------------------------------------------


def unreadable(path: Path, exc: BaseException) -> ConfigError:
    """A config file or folder that cannot be read (or stat'ed), and why."""
    return ConfigError(
        _("Cannot read {path}: {error}.").format(path=path, error=os_reason(exc)),
        fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
    )


def read_toml(path: Path, secret: bool = False) -> dict[str, Any]:
    """The file's tables, {} when it does not exist; a clear error naming file and line."""
    check_private(path.parent, secret=True)
    check_private(path, secret)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, exc) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(
            _("{path} is nested too deeply to be a metrika config.").format(path=path),
            fix=[_("Move the file away and run `metrika login` again.")],
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("{path} is not valid TOML: {error}").format(path=path, error=exc),
            fix=[_("Correct that line, or move the file away and run `metrika login` again.")],
        ) from None


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with mode 0600: readers see the old file or the new one. A symlink
    (a dotfile manager's) stays one: the file it points to is replaced."""
    import tempfile

    import tomli_w

    ensure_dir(path.parent)
    if path.is_symlink():
        path = path.resolve()
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                tomli_w.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigError(
            _("Cannot write {path}: {error}.").format(path=path, error=os_reason(exc)),
            fix=[_("Make the folder writable, or point METRIKA_CONFIG_DIR at one that is.")],
        ) from None


def ensure_dir(path: Path) -> None:
    """Create `path` and every missing parent 0700, whatever the umask."""
    try:
        missing = [folder for folder in (path, *path.parents) if not folder.exists()]
        for folder in reversed(missing):
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)
    except FileExistsError:  # another metrika made it meanwhile
        ensure_dir(path)
    except OSError as exc:
        raise ConfigError(
            _("Cannot create the folder {path}: {error}.").format(path=path, error=os_reason(exc)),
            fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
        ) from None


def check_private(path: Path, secret: bool) -> None:
    """Refuse a folder or file that another user owns or can change (or, for a secret, read), as
    ssh treats ~/.ssh: what is in it could have been planted there. A symlink (stow, chezmoi) is
    followed and its target judged, with the folder that holds the target."""
    try:
        link = path.lstat()
        if stat.S_ISLNK(link.st_mode):
            target = path.resolve()
            info = target.stat()
            holder = None if stat.S_ISDIR(info.st_mode) else (target.parent, target.parent.stat())
    except FileNotFoundError:  # nothing there yet, or a link to nothing yet: written when needed
        return
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        raise unreadable(path, exc if isinstance(exc, OSError) else OSError(errno.ELOOP, str(exc))) from None
    if not stat.S_ISLNK(link.st_mode):
        _check_owned_and_closed(path, link, _closed_to(link, secret))
        return
    _check_owned_and_closed(path, link, 0)  # a link's own mode means nothing
    _check_owned_and_closed(target, info, _closed_to(info, secret))
    if holder and not holder[1].st_mode & stat.S_ISVTX:  # whoever writes in it can replace the target
        _check_owned_and_closed(*holder, 0o022)


def _closed_to(info: os.stat_result, secret: bool) -> int:
    """The mode bits others must not have: a folder or a secret closed to them, a config unwritable."""
    return 0o077 if secret or stat.S_ISDIR(info.st_mode) else 0o022


def _check_owned_and_closed(path: Path, info: os.stat_result, closed: int) -> None:
    if info.st_uid != os.geteuid():
        raise ConfigError(
            _("{path} belongs to another user (uid {uid}); metrika only uses files and folders you own.").format(
                path=path, uid=info.st_uid
            ),
            fix=[
                _("Make it yours: `sudo chown {user} {path}`, or point METRIKA_CONFIG_DIR elsewhere.").format(
                    user=os.geteuid(), path=path
                )
            ],
        )
    if not info.st_mode & closed:
        return
    raise ConfigError(
        _("{path} is open to other users (mode {mode}); metrika refuses to use it.").format(
            path=path, mode=shown_mode(info.st_mode)
        ),
        fix=[_("Close it: `chmod {mode} {path}`.").format(mode=_closed_mode(info.st_mode, closed), path=path)],
    )


def _closed_mode(mode: int, closed: int) -> str:
    """The chmod that closes it: 700 or 600, or for a folder only others must not write to, `go-w`."""
    if closed == 0o022 and stat.S_ISDIR(mode):
        return "go-w"
    return "700" if stat.S_ISDIR(mode) else "600"


def shown_mode(mode: int) -> str:
    """A mode as `ls -l` shows it, then in full octal: `drwxrwxrwt, 1777`."""
    return f"{stat.filemode(mode)}, {stat.S_IMODE(mode):04o}"


def table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    """data[key] as a table ({} when absent); anything else names the file and key."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(
            _("{path}: {key} must be a table.").format(path=path, key=key),
            fix=[_("Correct it, or move the file away and run `metrika login` again.")],
        )
    return value


# ---- the lock --------------------------------------------------------------------------


@contextlib.contextmanager
def locked(directory: Path, timeout: float) -> Iterator[None]:
    """The folder, made private if new and checked if not, locked for one writer at a time (at most
    `timeout` seconds of waiting); the half-written files an interrupted writer left are removed."""
    ensure_dir(directory)
    check_private(directory, secret=True)
    with FolderLock(directory / ".lock", timeout):
        _remove_temporary_files(directory)
        yield


def _remove_temporary_files(directory: Path) -> None:
    """Half-written files an interrupted metrika left (one may hold a token); only under the lock."""
    for leftover in directory.glob(".*.toml.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


class FolderLock:
    """An exclusive lock on a file that is never a symlink, held at most `timeout` seconds in waiting;
    the holder writes its pid in it, so whoever waits can say who holds it."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> FolderLock:
        import fcntl
        import time

        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            os.fchmod(self.fd, 0o600)
        except OSError as exc:
            raise ConfigError(
                _("Cannot open the lock file {path}: {error}.").format(path=self.path, error=os_reason(exc)),
                fix=[_("Remove it if it is not a plain file (a symlink is never followed), then try again.")],
            ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._give_up()
                time.sleep(0.05)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def _give_up(self) -> None:
        holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip()
        os.close(self.fd)
        if not _is_running(holder):  # a pid left by a holder that is gone, or of another pid namespace
            raise StoreUnavailable(
                _("Another process has been holding the lock {path} for over {seconds:g} s.").format(
                    path=self.path, seconds=self.timeout
                ),
                fix=[
                    _("Find it with `fuser -v {path}`, wait for it or stop it, and try again.").format(path=self.path)
                ],
            )
        raise StoreUnavailable(
            _("Another metrika (pid {pid}) has been changing the profiles for over {seconds:g} s.").format(
                pid=holder, seconds=self.timeout
            ),
            fix=[_("Wait for it to finish and try again, or stop it: `kill {pid}`.").format(pid=holder)],
        )

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _is_running(pid: str) -> bool:
    """Whether `pid` (as read from a lock file) names a process that exists now."""
    if not pid.isascii() or not pid.isdigit() or not 0 < int(pid) < 2**22:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, another user's
        return True
    return True
