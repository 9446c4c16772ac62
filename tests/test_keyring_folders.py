"""Keyring entries by config folder, 0.3's entries moved, the recorded backend loaded directly,
and many profiles read at once: against the real gnome-keyring in a private D-Bus session."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, keyring_service, process_environment
from keyring_backends import backend_env
from secret_service import SECRET_SERVICE_BACKEND

from metrika_cli import keyrings
from metrika_cli.keyrings import SERVICE
from metrika_cli.text import fingerprint

LOGIN = ("login", "--with-token", "--client-id", CLIENT_ID)
SHAPES = [  # the token shapes people have: new, old, short hex, and an odd lower-case one
    "y0__xFolderTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijk",
    "y0_AgAAAABkZXZlbG9wZXJfdG9rZW5fZm9yX3Rlc3RzXzEyMzQ1Njc4",
    "AQAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "0123456789abcdef0123456789abcdef",
    "odd-lower-case-token-0123456789abcdefghij",
]


def python(code: str, env: dict[str, str] | None = None) -> str:
    """What `code` prints, run as another program using `keyring` would run it (the environment
    plus `env`, the backend PYTHON_KEYRING_BACKEND names made anew), in this process: a child
    would only add its start-up. keyring's own backend is left as it was."""
    import keyring.core

    kept, printed = keyring.core._keyring_backend, io.StringIO()
    try:
        with process_environment({**os.environ, **(env or {})}), contextlib.redirect_stdout(printed):
            keyring.core._keyring_backend = None
            exec(code, {})
    finally:
        keyring.core._keyring_backend = kept
    return printed.getvalue().strip()


def entry(service: str, user: str) -> str | None:
    value = python(f"import keyring; print(repr(keyring.get_password({service!r}, {user!r})))")
    return eval(value)


def put(service: str, user: str, value: str) -> None:
    python(f"import keyring; keyring.set_password({service!r}, {user!r}, {value!r})")


def profile_of_03(folder: Path, token: str, name: str = "default", **extra: str) -> None:
    """config.toml as metrika 0.3 wrote it: storage keyring, the fingerprint, no backend recorded."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    table = {"client_id": CLIENT_ID, "login": "vasya", "storage": "keyring", "fingerprint": fingerprint(token), **extra}
    (folder / "config.toml").write_text(tomli_w.dumps({"profiles": {name: table}}))
    (folder / "config.toml").chmod(0o600)


def recorded(folder: Path, name: str = "default") -> dict[str, str]:
    return tomllib.loads((folder / "config.toml").read_text())["profiles"][name]


# ---- which service -----------------------------------------------------------------------


def test_the_default_folder_keeps_service_metrika_cli_and_any_other_folder_has_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("METRIKA_CONFIG_DIR")
    assert keyring_service() == SERVICE
    default = tmp_path / "xdg" / "metrika-cli"
    default.mkdir(parents=True)
    (tmp_path / "link").symlink_to(default)
    assert (
        keyring_service({"METRIKA_CONFIG_DIR": str(tmp_path / "link")}) == SERVICE
    )  # the same folder by its real path
    one, two = (keyring_service({"METRIKA_CONFIG_DIR": str(tmp_path / name)}) for name in ("one", "two"))
    assert one != two and one.startswith("metrika-cli:") and two.startswith("metrika-cli:")
    assert len(one) == len("metrika-cli:") + 12
    assert keyring_service({"METRIKA_CONFIG_DIR": str(tmp_path / "one" / ".." / "one")}) == one


def test_two_config_folders_never_overwrite_each_others_token(fake, metrika, real_keyring, isolated, tmp_path):
    fake.add_token(OTHER_TOKEN, login="petya", client_id=CLIENT_ID)
    other = {"METRIKA_CONFIG_DIR": str(tmp_path / "other")}
    assert metrika(*LOGIN, input=TOKEN).code == 0
    assert metrika(*LOGIN, input=OTHER_TOKEN, env=other).code == 0
    assert metrika("token").stdout == TOKEN + "\n"
    assert metrika("token", env=other).stdout == OTHER_TOKEN + "\n"
    assert entry(keyring_service(), "default") == TOKEN
    assert entry(keyring_service(other), "default") == OTHER_TOKEN
    assert entry(SERVICE, "default") is None  # the default folder's entry is not touched
    assert metrika("logout", env=other).code == 0
    assert metrika("token").stdout == TOKEN + "\n"


# ---- 0.3's entries -------------------------------------------------------------------------


@pytest.mark.parametrize("token", SHAPES)
def test_an_entry_03_wrote_for_another_folder_moves_on_first_use(metrika, real_keyring, isolated, token):
    put(SERVICE, "default", token)
    profile_of_03(isolated, token)
    assert metrika("token").stdout == token + "\n"
    assert entry(keyring_service(), "default") == token
    assert entry(SERVICE, "default") is None  # moved: the default folder has no such profile
    assert metrika("token").stdout == token + "\n"


def test_an_entry_the_default_folder_uses_too_is_copied_and_stays(
    metrika, real_keyring, isolated, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    profile_of_03(tmp_path / "xdg" / "metrika-cli", TOKEN)
    profile_of_03(isolated, TOKEN)
    put(SERVICE, "default", TOKEN)
    assert metrika("token").stdout == TOKEN + "\n"
    assert entry(keyring_service(), "default") == TOKEN
    assert entry(SERVICE, "default") == TOKEN
    assert metrika("token", env={"METRIKA_CONFIG_DIR": ""}).stdout == TOKEN + "\n"  # the default folder's, as before


def test_an_entry_03_left_that_is_not_this_profiles_stays_where_it_is(metrika, real_keyring, isolated):
    put(SERVICE, "default", OTHER_TOKEN)  # the default folder's token, or another folder's
    profile_of_03(isolated, TOKEN)
    result = metrika("token")
    assert result.code == 3, result.output
    assert entry(SERVICE, "default") == OTHER_TOKEN
    assert entry(keyring_service(), "default") is None
    assert OTHER_TOKEN not in result.output


def test_an_entry_changed_outside_the_profiles_login_is_named_so(metrika, real_keyring, isolated):
    profile_of_03(isolated, TOKEN)
    put(keyring_service(), "default", OTHER_TOKEN)
    result = metrika("token")
    assert result.code == 3
    assert "changed outside this profile's login" in result.stderr
    assert "an interrupted login" not in result.stderr and OTHER_TOKEN not in result.output


# ---- the recorded backend ------------------------------------------------------------------


def test_login_records_the_backend_and_a_03_profile_records_it_at_its_next_read(fake, metrika, real_keyring, isolated):
    assert metrika(*LOGIN, input=TOKEN).code == 0
    assert recorded(isolated)["keyring_backend"] == SECRET_SERVICE_BACKEND
    profile_of_03(isolated, TOKEN)  # what 0.3 wrote: nothing recorded
    assert "keyring_backend" not in recorded(isolated)
    assert metrika("token").stdout == TOKEN + "\n"
    assert recorded(isolated)["keyring_backend"] == SECRET_SERVICE_BACKEND
    assert recorded(isolated)["fingerprint"] == fingerprint(TOKEN)


TELL = (
    "import sys\n"
    "from metrika_cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "import keyring.core\n"
    "discovered = keyring.core._keyring_backend is not None or 'keyring.backends.kwallet' in sys.modules\n"
    "print('discovered' if discovered else 'direct', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_telling(*args: str) -> subprocess.CompletedProcess[str]:
    """metrika ARGS in a process that says, at the end, whether keyring's discovery ran."""
    return subprocess.run(
        [sys.executable, "-c", TELL, *args], env=dict(os.environ), capture_output=True, text=True, timeout=60
    )


def test_token_whoami_and_status_load_the_recorded_class_without_discovery(fake, metrika, real_keyring, monkeypatch):
    assert metrika(*LOGIN, input=TOKEN).code == 0
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    token = run_telling("token")
    assert token.returncode == 0 and token.stdout == TOKEN + "\n"
    assert token.stderr.splitlines()[-1] == "direct", token.stderr
    whoami = run_telling("whoami")
    assert whoami.returncode == 0 and whoami.stderr.splitlines()[-1] == "direct", whoami.stderr
    assert run_telling("status", "--offline").stderr.splitlines()[-1] == "direct"


@pytest.mark.parametrize("named", ["os.system", "subprocess.Popen", "keyring.core.get_keyring", "no-dots"])
def test_a_recorded_class_that_is_no_keyring_backend_is_never_called(metrika, isolated, monkeypatch, named):
    profile_of_03(isolated, TOKEN, keyring_backend=named)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")  # the recorded class would be loaded
    from metrika_cli.keyrings import _load_class

    assert _load_class(named) is None
    assert metrika("token").code in (3, 7)


def test_a_recorded_class_that_is_gone_falls_back_to_discovery_and_is_recorded_anew(
    fake, metrika, real_keyring, isolated, monkeypatch
):
    assert metrika(*LOGIN, input=TOKEN).code == 0
    config = (isolated / "config.toml").read_text().replace(SECRET_SERVICE_BACKEND, "uninstalled_plugin.Keyring")
    (isolated / "config.toml").write_text(config)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    telling = run_telling("token")
    assert telling.stdout == TOKEN + "\n" and telling.stderr.splitlines()[-1] == "discovered"
    assert recorded(isolated)["keyring_backend"] == SECRET_SERVICE_BACKEND


def test_python_keyring_backend_wins_over_the_recorded_class(metrika, isolated, tmp_path, monkeypatch):
    profile_of_03(isolated, TOKEN, keyring_backend="keyring_backends.LockedKeyring")
    monkeypatch.setenv("METRIKA_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    (tmp_path / "keyring.json").write_text(json.dumps({f"{keyring_service()}/default": TOKEN}))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    locked = metrika("token")  # the recorded class, loaded as it is: locked
    assert locked.code == 7 and "the keyring is locked" in locked.stderr
    assert metrika("token", env=backend_env("FileKeyring")).stdout == TOKEN + "\n"


# ---- many profiles at once ---------------------------------------------------------------------


def many_profiles(folder: Path, tokens: dict[str, str]) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    tables = {
        name: {"client_id": CLIENT_ID, "login": name, "storage": "keyring", "fingerprint": fingerprint(token)}
        for name, token in tokens.items()
    }
    (folder / "config.toml").write_text(tomli_w.dumps({"profiles": tables}))
    (folder / "config.toml").chmod(0o600)


def test_status_offline_reads_every_profile_in_one_secret_service_conversation(
    metrika, real_keyring, isolated, monkeypatch
):
    tokens = {f"client-{number}": token for number, token in enumerate(SHAPES)}
    many_profiles(isolated, tokens)
    script = "import keyring\n" + "".join(
        f"keyring.set_password({keyring_service()!r}, {name!r}, {token!r})\n" for name, token in tokens.items()
    )
    script += f"keyring.set_password({keyring_service()!r}, 'client-0#refresh', 'not-a-token-of-a-profile')\n"
    python(script)
    batches = []
    read_many = keyrings.read_many
    monkeypatch.setattr(keyrings, "read_many", lambda *args: batches.append(args[2]) or read_many(*args))

    def one_by_one(*args: object) -> None:
        raise AssertionError("one entry at a time")

    monkeypatch.setattr("keyring.backends.SecretService.Keyring.get_password", one_by_one)
    result = metrika("status", "--offline", "--json")
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert [item["token"]["fingerprint"] for item in document["profiles"]] == [fingerprint(t) for t in tokens.values()]
    assert batches == [list(tokens)]
    assert not any(token in result.output for token in tokens.values())


def test_a_keyrings_alt_file_is_read_once_for_every_profile(metrika, isolated, tmp_path, monkeypatch):
    tokens = {f"client-{number}": token for number, token in enumerate(SHAPES)}
    many_profiles(isolated, tokens)
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring", "XDG_DATA_HOME": str(tmp_path / "data")}
    script = "import keyring\n" + "".join(
        f"keyring.set_password({keyring_service()!r}, {name!r}, {token!r})\n" for name, token in tokens.items()
    )
    python(script, env)
    opened = []
    import configparser

    read = configparser.RawConfigParser.read
    monkeypatch.setattr(
        configparser.RawConfigParser, "read", lambda self, *a, **k: opened.append(a) or read(self, *a, **k)
    )
    result = metrika("status", "--offline", "--json", env=env)
    assert result.code == 0, result.output
    assert [item["diagnosis"] for item in json.loads(result.stdout)["profiles"]] == ["ok"] * len(tokens)
    assert len(opened) == 1


def test_logout_forgets_an_entry_03_left_for_the_profile_but_not_the_default_folders(
    metrika, real_keyring, isolated, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    put(SERVICE, "default", TOKEN)
    put(SERVICE, "work", OTHER_TOKEN)
    profile_of_03(isolated, TOKEN)
    assert metrika("logout").code == 0
    assert entry(SERVICE, "default") is None  # this profile's own, and no default folder uses it
    profile_of_03(tmp_path / "xdg" / "metrika-cli", OTHER_TOKEN, name="work")
    profile_of_03(isolated, OTHER_TOKEN, name="work")
    assert metrika("logout", "--profile", "work").code == 0
    assert entry(SERVICE, "work") == OTHER_TOKEN  # the default folder's profile still uses it


def test_a_secret_service_without_getsecrets_is_read_item_by_item_on_the_same_connection(
    metrika, real_keyring, isolated, monkeypatch
):
    from secretstorage.exceptions import ItemNotFoundException
    from secretstorage.util import DBusAddressWrapper

    tokens = {f"client-{number}": token for number, token in enumerate(SHAPES[:3])}
    many_profiles(isolated, tokens)
    python(
        "import keyring\n"
        + "".join(f"keyring.set_password({keyring_service()!r}, {n!r}, {t!r})\n" for n, t in tokens.items())
    )
    call = DBusAddressWrapper.call

    def without_getsecrets(self: DBusAddressWrapper, method: str, *args: object) -> object:
        if method == "GetSecrets":  # as a provider answers that lacks it (UnknownMethod)
            raise ItemNotFoundException("no GetSecrets")
        return call(self, method, *args)

    monkeypatch.setattr(DBusAddressWrapper, "call", without_getsecrets)
    result = metrika("status", "--offline", "--json")
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert [item["token"]["fingerprint"] for item in document["profiles"]] == [fingerprint(t) for t in tokens.values()]
