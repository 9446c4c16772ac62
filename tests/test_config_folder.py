"""The config folder is metrika's own, as ~/.ssh is ssh's: made 0700 with every parent whatever the
umask; a folder or file another user owns or can open is refused, with the command that fixes
it; the lock never follows a symlink and says who holds it."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN

from metrika_cli.text import fingerprint

LOGIN = ("login", "--with-token", "--no-verify", "--insecure-storage", "--client-id", CLIENT_ID)
OTHER_UID = 4242
COMMANDS = [(LOGIN, TOKEN), (("token",), ""), (("whoami",), ""), (("check-access",), ""), (("logout",), "")]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def planted_profile(directory: Path, token: str = OTHER_TOKEN) -> None:
    """A profile whose token is in credentials.toml, its metadata (fingerprint included) consistent."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    profile = {"client_id": CLIENT_ID, "storage": "file", "fingerprint": fingerprint(token)}
    (directory / "config.toml").write_text(tomli_w.dumps({"profiles": {"default": profile}}))
    (directory / "credentials.toml").write_text(tomli_w.dumps({"profiles": {"default": {"token": token}}}))
    for name in ("config.toml", "credentials.toml"):
        (directory / name).chmod(0o600)


@pytest.mark.parametrize("where", ["METRIKA_CONFIG_DIR", "XDG_CONFIG_HOME", "HOME"])
def test_every_folder_metrika_creates_parents_included_is_0700_under_umask_000(metrika, tmp_path, where):
    base = tmp_path / "fresh"
    env = {"METRIKA_CONFIG_DIR": ""}
    if where == "METRIKA_CONFIG_DIR":
        env["METRIKA_CONFIG_DIR"] = str(base / "a" / "b" / "metrika")
        made = [base, base / "a", base / "a" / "b", base / "a" / "b" / "metrika"]
    elif where == "XDG_CONFIG_HOME":
        env["XDG_CONFIG_HOME"] = str(base / "xdg")
        made = [base, base / "xdg", base / "xdg" / "metrika-cli"]
    else:
        env["HOME"] = str(base / "home")
        made = [base, base / "home", base / "home" / ".config", base / "home" / ".config" / "metrika-cli"]
    with umask(0):
        result = metrika(*LOGIN, input=TOKEN, env=env)
    assert result.code == 0, result.output
    assert {str(folder): oct(mode(folder)) for folder in made} == {str(folder): "0o700" for folder in made}
    assert {p.name: oct(mode(p)) for p in made[-1].iterdir()} == {
        "config.toml": "0o600",
        "credentials.toml": "0o600",
        ".lock": "0o600",
    }
    assert metrika("token", env=env).stdout == TOKEN + "\n"


@pytest.mark.parametrize("command, stdin", COMMANDS)
def test_a_config_folder_open_to_others_is_refused_with_the_chmod_that_fixes_it(metrika, isolated, command, stdin):
    planted_profile(isolated)
    isolated.chmod(0o755)
    result = metrika(*command, input=stdin)
    assert result.code == 1, result.output
    assert f"chmod 700 {isolated}" in result.stderr and "755" in result.stderr
    assert OTHER_TOKEN not in result.stdout and "Traceback" not in result.output
    assert mode(isolated) == 0o755  # metrika tells, it does not change it behind your back


@pytest.mark.parametrize("command, stdin", COMMANDS)
def test_a_config_folder_another_user_owns_is_refused_with_the_chown_that_fixes_it(metrika, isolated, command, stdin):
    planted_profile(isolated)
    os.chown(isolated, OTHER_UID, OTHER_UID)
    result = metrika(*command, input=stdin)
    assert result.code == 1, result.output
    assert "chown" in result.stderr and str(isolated) in result.stderr and str(OTHER_UID) in result.stderr
    assert OTHER_TOKEN not in result.stdout and "Traceback" not in result.output


def test_a_config_folder_that_is_a_symlink_to_an_open_folder_is_refused(metrika, isolated, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    isolated.symlink_to(shared)
    for command, stdin in COMMANDS:
        result = metrika(*command, input=stdin)
        assert result.code == 1, (command, result.output)
        assert "chmod 700" in result.stderr
    assert list(shared.iterdir()) == []


def test_a_config_folder_that_is_a_symlink_to_a_private_folder_works(metrika, isolated, tmp_path):
    """The refusal above is about the folder's mode, not about symlinks (dotfiles repositories)."""
    private = tmp_path / "dotfiles" / "metrika"
    private.mkdir(parents=True, mode=0o700)
    isolated.symlink_to(private)
    assert metrika(*LOGIN, input=TOKEN).code == 0
    assert metrika("token").stdout == TOKEN + "\n"
    assert (private / "credentials.toml").exists()


@pytest.mark.parametrize("problem", ["0644", "0640", "0604", "other-owner"])
def test_credentials_others_can_read_or_own_are_refused_and_their_token_never_printed(metrika, isolated, problem):
    planted_profile(isolated)
    credentials = isolated / "credentials.toml"
    if problem == "other-owner":
        os.chown(credentials, OTHER_UID, OTHER_UID)
    else:
        credentials.chmod(int(problem, 8))
    for command in (("token",), ("token", "--header"), ("whoami",), ("check-access", "--json")):
        result = metrika(*command)
        assert result.code == 1, (command, result.output)
        assert str(credentials) in result.output
        assert ("chown" if problem == "other-owner" else "chmod 600") in result.output
        assert OTHER_TOKEN not in result.output and "Traceback" not in result.output
    assert metrika(*LOGIN, input=TOKEN).code == 1  # nor is a token added to it


def test_a_config_others_can_change_is_refused_but_one_they_can_read_is_not(metrika, isolated):
    planted_profile(isolated, TOKEN)
    (isolated / "config.toml").chmod(0o644)  # readable metadata: not a secret
    assert metrika("token").stdout == TOKEN + "\n"
    (isolated / "config.toml").chmod(0o666)  # anyone could point it elsewhere
    result = metrika("token")
    assert result.code == 1 and "chmod 600" in result.stderr and TOKEN not in result.stdout


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("command", [LOGIN, ("logout",)])
def test_a_lock_file_that_is_a_symlink_is_never_followed(metrika, isolated, tmp_path, dangling, command):
    isolated.mkdir(mode=0o700, parents=True)
    target = tmp_path / "elsewhere"
    if not dangling:
        target.write_text("someone else's file\n")
        target.chmod(0o644)
    (isolated / ".lock").symlink_to(target)
    result = metrika(*command, input=TOKEN)
    assert result.code == 1, result.output
    assert str(isolated / ".lock") in result.stderr and "symlink is never followed" in result.stderr
    assert "Traceback" not in result.output
    if dangling:
        assert not target.exists()
    else:
        assert target.read_text() == "someone else's file\n" and mode(target) == 0o644
    assert (isolated / ".lock").is_symlink()
    assert not (isolated / "credentials.toml").exists()


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
print("held", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("command", [LOGIN, ("logout", "--all", "--yes")])
def test_a_lock_another_process_holds_is_waited_for_then_named_with_its_pid(metrika, isolated, command):
    isolated.mkdir(mode=0o700, parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(isolated / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        result = metrika(*command, input=TOKEN, lock_timeout=0.3)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 7, result.output
    assert 0.3 <= waited < 3, waited
    assert f"pid {holder.pid}" in result.stderr and f"kill {holder.pid}" in result.stderr
    assert "Traceback" not in result.output
    assert not (isolated / "credentials.toml").exists()
    assert metrika(*command, input=TOKEN, lock_timeout=0.3).code == 0  # free again once the holder is gone


# ---- a config kept by a dotfile manager --------------------------------------------------


def dotfiles_config(isolated: Path, tmp_path: Path, token: str = TOKEN) -> Path:
    """config.toml and credentials.toml as stow leaves them: symlinks into a dotfiles repository."""
    planted_profile(tmp_path / "dotfiles" / "metrika", token)
    repository = tmp_path / "dotfiles" / "metrika"
    repository.chmod(0o755)  # a repository folder as git leaves it: readable, writable by its owner only
    isolated.mkdir(mode=0o700, parents=True)
    for name in ("config.toml", "credentials.toml"):
        (isolated / name).symlink_to(repository / name)
    return repository


def test_a_symlinked_config_and_credentials_the_user_keeps_private_are_used(metrika, isolated, tmp_path):
    repository = dotfiles_config(isolated, tmp_path)
    result = metrika("token")
    assert (result.code, result.stdout) == (0, TOKEN + "\n"), result.output
    assert metrika(*LOGIN, "--profile", "work", input=OTHER_TOKEN).code == 0
    assert (isolated / "config.toml").is_symlink() and (isolated / "credentials.toml").is_symlink()  # still links
    assert "work" in tomllib.loads((repository / "config.toml").read_text())["profiles"]
    assert mode(repository / "credentials.toml") == 0o600


def test_a_symlinked_credentials_file_others_can_read_is_refused_by_its_target(metrika, isolated, tmp_path):
    repository = dotfiles_config(isolated, tmp_path)
    (repository / "credentials.toml").chmod(0o644)
    result = metrika("token")
    assert result.code == 1 and TOKEN not in result.stdout
    assert f"chmod 600 {repository / 'credentials.toml'}" in result.stderr
    assert "-rw-r--r--, 0644" in result.stderr and "777" not in result.stderr


def test_a_symlinked_config_in_a_folder_others_can_write_to_is_refused(metrika, isolated, tmp_path):
    repository = dotfiles_config(isolated, tmp_path)
    repository.chmod(0o777)
    result = metrika("token")
    assert result.code == 1 and TOKEN not in result.stdout
    assert f"chmod go-w {repository}" in result.stderr and "drwxrwxrwx, 0777" in result.stderr


def test_a_symlinked_config_another_user_owns_is_refused(metrika, isolated, tmp_path):
    repository = dotfiles_config(isolated, tmp_path)
    os.chown(repository / "config.toml", OTHER_UID, OTHER_UID)
    result = metrika("token")
    assert result.code == 1 and str(OTHER_UID) in result.stderr and "chown" in result.stderr


def test_a_sticky_world_writable_config_folder_is_shown_as_ls_shows_it(metrika, isolated):
    isolated.mkdir(parents=True)
    isolated.chmod(0o1777)
    result = metrika("whoami")
    assert result.code == 1, result.output
    assert "drwxrwxrwt, 1777" in result.stderr and f"chmod 700 {isolated}" in result.stderr


STALE_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"999999999\\n")  # a pid no process has
print("held", flush=True)
time.sleep(60)
"""


def test_a_lock_whose_recorded_pid_is_gone_names_no_pid(metrika, isolated):
    isolated.mkdir(mode=0o700, parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", STALE_HOLDER, str(isolated / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        result = metrika(*LOGIN, input=TOKEN, lock_timeout=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 7, result.output
    assert "999999999" not in result.output and "kill" not in result.output
    assert f"fuser -v {isolated / '.lock'}" in result.stderr
