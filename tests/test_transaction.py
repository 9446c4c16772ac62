"""Login is a transaction: the token is written first, config.toml is replaced as the commit, a
failure before the commit puts back what was there, and the old copy elsewhere goes only after it.
Whatever breaks — a full disk, a keyring that hangs after storing, kill -9 or Ctrl-C at any step —
`metrika token` afterwards prints the old token, or refuses (exit 3) naming the mismatch: never the
new token under the old metadata."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, Result, keyring_service
from keyring_backends import PAUSED_VARIABLE, FileKeyring, backend_env

from metrika_cli.text import fingerprint

ALICE, BOB = TOKEN, OTHER_TOKEN
LOGIN = ("login", "--with-token", "--client-id", CLIENT_ID)
INSECURE = (*LOGIN, "--insecure-storage")


def entry(user: str = "default") -> str:
    """FileKeyring's key of a profile's entry: the test's config folder's service, then the user."""
    return f"{keyring_service()}/{user}"


TESTS = Path(__file__).resolve().parent


@pytest.fixture
def bob(fake):
    fake.add_token(BOB, login="petya", uid="2002", client_id=CLIENT_ID)


def config(directory: Path) -> dict:
    return tomllib.loads((directory / "config.toml").read_text())["profiles"]["default"]


def credentials(directory: Path) -> dict:
    path = directory / "credentials.toml"
    return tomllib.loads(path.read_text()).get("profiles", {}) if path.exists() else {}


def disk_full_at(monkeypatch, file_name: str) -> Callable[[], None]:
    """Writing `file_name` fails as on a full disk: its temporary copy cannot be synced (ENOSPC).
    Returns what frees the disk again."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{file_name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return lambda: monkeypatch.setattr(os, "fsync", real_fsync)


def assert_old_or_mismatch(metrika, directory: Path, old: str, new: str) -> Result:
    """The rule that always holds: the old token, or exit 3 naming both fingerprints; never the new
    token under the old metadata."""
    result = metrika("token")
    recorded = config(directory)["fingerprint"]
    if result.code == 0:
        assert result.stdout == old + "\n", result.output
        assert recorded == fingerprint(old)
    else:
        assert result.code == 3, result.output
        assert recorded == fingerprint(old)
        assert fingerprint(new) in result.stderr and recorded in result.stderr
        assert "metrika login --profile default" in result.stderr
        assert result.stdout == ""
    assert new not in result.output
    return result


def test_login_records_the_fingerprint_of_the_token_it_stored(fake, metrika, isolated, keyring_file):
    assert metrika(*LOGIN, input=ALICE).code == 0
    assert config(isolated)["fingerprint"] == fingerprint(ALICE)
    assert len(fingerprint(ALICE)) == len("sha256:") + 8 and fingerprint(ALICE) != fingerprint(BOB)
    assert FileKeyring.entries() == {entry(): ALICE}


@pytest.mark.parametrize("storage", ["keyring", "file"])
def test_a_stored_token_that_is_not_the_one_the_metadata_describes_is_refused(
    fake, metrika, isolated, keyring_file, storage
):
    login = metrika(*LOGIN, *(["--insecure-storage"] if storage == "file" else []), "--profile", "work", input=ALICE)
    assert login.code == 0, login.output
    fake.requests.clear()
    if storage == "keyring":
        FileKeyring._save({entry("work"): BOB})
    else:
        (isolated / "credentials.toml").write_text(tomli_w.dumps({"profiles": {"work": {"token": BOB}}}))
    for command in (
        ("token", "--profile", "work"),
        ("whoami", "--profile", "work"),
        ("check-access", "--profile", "work"),
    ):
        result = metrika(*command)
        assert result.code == 3, (command, result.output)
        assert fingerprint(BOB) in result.output and fingerprint(ALICE) in result.output
        assert "metrika login --profile work" in result.output
        assert BOB not in result.output and "Traceback" not in result.output
    assert fake.requests_to("/management/") == []


def test_disk_full_at_the_commit_keeps_the_keyring_token_and_leaves_no_plain_text_copy(
    fake, bob, metrika, isolated, keyring_file, monkeypatch
):
    assert metrika(*LOGIN, input=ALICE).code == 0
    free_disk = disk_full_at(monkeypatch, "config.toml")
    result = metrika(*INSECURE, input=BOB)
    assert result.code == 1, result.output
    assert "no space left on the device" in result.stderr and str(isolated / "config.toml") in result.stderr
    assert "Traceback" not in result.output
    assert FileKeyring.entries() == {entry(): ALICE}
    assert "default" not in credentials(isolated)
    assert BOB not in "".join(p.read_text() for p in isolated.iterdir() if p.is_file())
    assert config(isolated)["storage"] == "keyring" and config(isolated)["fingerprint"] == fingerprint(ALICE)
    free_disk()
    assert metrika("token").stdout == ALICE + "\n"
    assert [p.name for p in isolated.glob(".*.tmp")] == []


def test_disk_full_at_the_commit_takes_the_new_token_back_out_of_the_keyring(
    fake, bob, metrika, isolated, keyring_file, monkeypatch
):
    assert metrika(*INSECURE, input=ALICE).code == 0
    free_disk = disk_full_at(monkeypatch, "config.toml")
    result = metrika(*LOGIN, input=BOB)
    assert result.code == 1, result.output
    assert "no space left on the device" in result.stderr
    free_disk()
    assert FileKeyring.entries() == {}  # bob is not left in the keyring
    assert credentials(isolated) == {"default": {"token": ALICE}}
    assert config(isolated)["storage"] == "file"
    assert metrika("token").stdout == ALICE + "\n"


@pytest.mark.parametrize("before", ["keyring", "file"])
def test_a_keyring_that_stores_and_then_hangs_exits_7_and_never_pairs_the_new_token_with_old_metadata(
    fake, bob, metrika, isolated, keyring_file, before
):
    assert metrika(*(LOGIN if before == "keyring" else INSECURE), input=ALICE).code == 0
    started = time.monotonic()
    result = metrika(*LOGIN, input=BOB, env=backend_env("StoreThenHangKeyring"), keyring_timeout=0.3)
    assert result.code == 7, result.output
    assert "did not answer within 0.3 s" in result.stderr
    assert time.monotonic() - started < 5
    assert_old_or_mismatch(metrika, isolated, ALICE, BOB)
    assert BOB not in FileKeyring.entries().values()  # put back (alice) or taken out (there was none)


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"metrika ended ({process.returncode}) before the step: {process.stderr.read()}")
        assert time.monotonic() < deadline, "metrika never reached the step"
        time.sleep(0.01)


def login_stopped_at(step: str, marker: Path, insecure: bool, env: dict[str, str]) -> subprocess.Popen:
    """`metrika login` of BOB (without asking Yandex), stopped at `step`."""
    args = [*LOGIN, "--no-verify", *(["--insecure-storage"] if insecure else [])]
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "pausing_metrika.py"), step, str(marker), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    process.stdin.write(BOB)
    process.stdin.close()
    process.stdin = None  # communicate() must not flush it again
    wait_for(marker, process)
    return process


KILLS = [
    # before, after, where it stops, what `metrika token` then gives
    ("keyring", "keyring", "keyring-hangs", "mismatch"),
    ("keyring", "keyring", "token-written", "mismatch"),
    ("keyring", "keyring", "commit-renaming", "mismatch"),
    ("file", "keyring", "token-written", "old"),
    ("file", "keyring", "committed", "new"),
    ("keyring", "file", "token-written", "old"),
    ("file", "file", "credentials-renaming", "old"),
    ("file", "file", "token-written", "mismatch"),
]


@pytest.mark.parametrize("before, after, step, outcome", KILLS)
def test_kill_9_at_any_step_of_a_login_never_pairs_the_new_token_with_old_metadata(
    metrika, isolated, keyring_file, tmp_path, before, after, step, outcome
):
    assert metrika(*LOGIN, "--no-verify", *(["--insecure-storage"] if before == "file" else []), input=ALICE).code == 0
    marker = tmp_path / "paused"
    env = {}
    if step == "keyring-hangs":
        env = {**backend_env("StoreThenHangKeyring"), PAUSED_VARIABLE: str(marker)}
    process = login_stopped_at("none" if step == "keyring-hangs" else step, marker, after == "file", env)
    process.kill()
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL

    if outcome == "new":  # killed after the commit: the new token with its own metadata
        result = metrika("token")
        assert result.code == 0 and result.stdout == BOB + "\n"
        assert config(isolated)["fingerprint"] == fingerprint(BOB) and config(isolated)["storage"] == after
    else:
        result = assert_old_or_mismatch(metrika, isolated, ALICE, BOB)
        assert result.code == (0 if outcome == "old" else 3), result.output
    leftovers = list(isolated.glob(".*.toml.*.tmp"))
    if step.endswith("-renaming"):  # the crash left the half-done write behind …
        assert leftovers
    # … and the next command that takes the lock clears it; logging in again heals the profile
    assert metrika(*LOGIN, "--no-verify", "--insecure-storage", input=ALICE).code == 0
    assert list(isolated.glob(".*.tmp")) == []
    assert metrika("token").stdout == ALICE + "\n"


@pytest.mark.parametrize("before, after", [("keyring", "keyring"), ("file", "file"), ("file", "keyring")])
def test_ctrl_c_between_the_token_and_the_commit_stores_nothing(
    metrika, isolated, keyring_file, tmp_path, before, after
):
    assert metrika(*LOGIN, "--no-verify", *(["--insecure-storage"] if before == "file" else []), input=ALICE).code == 0
    saved = {p.name: p.read_bytes() for p in isolated.glob("*.toml")}
    keyring_before = FileKeyring.entries()
    marker = tmp_path / "paused"
    process = login_stopped_at("token-written", marker, after == "file", {})
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert "Interrupted; nothing was stored." in stderr and "Traceback" not in stderr
    assert FileKeyring.entries() == keyring_before
    assert {p.name: p.read_bytes() for p in isolated.glob("*.toml")} == saved
    assert metrika("token").stdout == ALICE + "\n"


def plant_temporary_files(directory: Path) -> list[Path]:
    """What a crash in the middle of a write leaves: a credentials copy holding a token, a config copy."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    planted = [directory / ".credentials.toml.k3j9x_2a.tmp", directory / ".config.toml.q8w1zz0p.tmp"]
    planted[0].write_text(tomli_w.dumps({"profiles": {"default": {"token": BOB}}}))
    planted[1].write_text(tomli_w.dumps({"profiles": {"default": {"storage": "file"}}}))
    for path in planted:
        path.chmod(0o600)
    return planted


@pytest.mark.parametrize("command", [INSECURE, ("logout",), ("logout", "--all", "--yes")])
def test_a_temporary_file_left_by_a_crash_is_removed_by_the_next_command_that_takes_the_lock(
    fake, metrika, isolated, command
):
    planted = plant_temporary_files(isolated)
    assert metrika("token").code == 3  # reading takes no lock, and never reads a temporary file
    assert all(path.exists() for path in planted)
    result = metrika(*command, input=ALICE)
    assert result.code == 0, result.output
    assert [path for path in planted if path.exists()] == []
    assert all(BOB not in path.read_text() for path in isolated.iterdir() if path.is_file())


@pytest.mark.parametrize("recorded", ["keyring", "file", "nothing"])
def test_logout_removes_the_token_from_every_place_whatever_config_says(metrika, isolated, keyring_file, recorded):
    if recorded == "nothing":
        isolated.mkdir(mode=0o700, parents=True)
    else:
        assert (
            metrika(*LOGIN, "--no-verify", *(["--insecure-storage"] if recorded == "file" else []), input=ALICE).code
            == 0
        )
    FileKeyring._save({entry(): ALICE, entry("other"): BOB})
    (isolated / "credentials.toml").write_text(
        tomli_w.dumps({"profiles": {"default": {"token": ALICE}, "other": {"token": BOB}}})
    )
    (isolated / "credentials.toml").chmod(0o600)
    result = metrika("logout")
    assert result.code == 0, result.output
    assert "Forgot the token of profile default" in result.stderr
    assert FileKeyring.entries() == {entry("other"): BOB}
    assert credentials(isolated) == {"other": {"token": BOB}}
    assert metrika("token").code == 3


# ---- a login with a refresh token: token, refresh token and metadata together ----------------------

DEVICE_LOGIN = ("login", "--flow", "device", "--client-id", CLIENT_ID, "--no-verify")


@pytest.fixture
def device_login(fake, monkeypatch):
    """The device flow approved at once, no waiting: a login that brings a refresh token, no terminal."""
    fake.device_interval = 0
    fake.device_approve_after = 1
    monkeypatch.setenv("METRIKA_CLIENT_SECRET", fake.app(CLIENT_ID).secret)
    return fake


def stored_pair(directory: Path, storage: str) -> tuple[str | None, str | None]:
    """(token, refresh token) as the store holds them."""
    if storage == "file":
        found = credentials(directory).get("default", {})
        return found.get("token"), found.get("refresh_token")
    entries = FileKeyring.entries()
    return entries.get(entry()), entries.get(entry("default#refresh"))


def device_login_stopped_at(step: str, marker: Path, insecure: bool) -> subprocess.Popen:
    args = [*DEVICE_LOGIN, *(["--insecure-storage"] if insecure else [])]
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "pausing_metrika.py"), step, str(marker), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(marker, process)
    return process


@pytest.mark.parametrize(
    "storage, step",
    [
        ("keyring", "refresh-writing"),
        ("keyring", "token-written"),
        ("keyring", "commit-renaming"),
        ("file", "token-written"),
        ("file", "commit-renaming"),
        ("file", "credentials-renaming"),
    ],
)
def test_kill_9_during_a_login_with_a_refresh_token_never_mixes_old_and_new(
    device_login, metrika, isolated, keyring_file, tmp_path, storage, step
):
    insecure = ["--insecure-storage"] if storage == "file" else []
    assert metrika(*DEVICE_LOGIN, *insecure).code == 0
    old = stored_pair(isolated, storage)
    assert None not in old and config(isolated)["renewable"] is True
    process = device_login_stopped_at(step, tmp_path / "paused", storage == "file")
    process.kill()
    process.communicate(timeout=10)
    new_token = list(device_login.issued)[-1]
    now = stored_pair(isolated, storage)
    if step == "refresh-writing":  # between the two entries: the new token, so a mismatch is said
        assert now == (new_token, old[1])
        assert assert_old_or_mismatch(metrika, isolated, old[0], new_token).code == 3
    else:
        assert now in (old, (new_token, device_login.issued[new_token].refresh_token)), now  # a pair, never mixed
        assert_old_or_mismatch(metrika, isolated, old[0], new_token)
    assert config(isolated)["renewable"] is True and config(isolated)["fingerprint"] == fingerprint(old[0])


@pytest.mark.parametrize("storage", ["keyring", "file"])
def test_ctrl_c_before_the_commit_of_a_login_with_a_refresh_token_puts_both_back(
    device_login, metrika, isolated, keyring_file, tmp_path, storage
):
    insecure = ["--insecure-storage"] if storage == "file" else []
    assert metrika(*DEVICE_LOGIN, *insecure).code == 0
    old, files = stored_pair(isolated, storage), {p.name: p.read_bytes() for p in isolated.glob("*.toml")}
    process = device_login_stopped_at("token-written", tmp_path / "paused", storage == "file")
    process.send_signal(signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 130 and "nothing was stored" in stderr
    assert stored_pair(isolated, storage) == old
    assert {p.name: p.read_bytes() for p in isolated.glob("*.toml")} == files


def test_a_pasted_token_over_a_renewable_profile_takes_the_old_refresh_token_away(
    device_login, metrika, isolated, keyring_file
):
    assert metrika(*DEVICE_LOGIN).code == 0
    assert metrika(*LOGIN, "--no-verify", input=ALICE).code == 0
    assert stored_pair(isolated, "keyring") == (ALICE, None) and "renewable" not in config(isolated)


def test_disk_full_at_the_commit_takes_the_new_token_and_refresh_token_back_out(
    device_login, metrika, isolated, keyring_file, monkeypatch
):
    assert metrika(*DEVICE_LOGIN).code == 0
    old = stored_pair(isolated, "keyring")
    free_disk = disk_full_at(monkeypatch, "config.toml")
    result = metrika(*DEVICE_LOGIN)
    free_disk()
    assert result.code == 1 and "no space left on the device" in result.stderr
    assert stored_pair(isolated, "keyring") == old
    assert metrika("token").stdout == old[0] + "\n"
