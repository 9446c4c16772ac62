"""Where the token is kept, said once and naming the keyring backend really in use: keyrings.alt's
plain-text file is no OS keyring, and saying so is the point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CLIENT_ID, TOKEN, keyring_service
from keyring_backends import FileKeyring, backend_env

from metrika_cli.keyrings import describe_backend

LOGIN = ("login", "--with-token", "--client-id", CLIENT_ID)
PLAIN = "keyrings.alt.file.PlaintextKeyring"


@pytest.fixture
def plain_keyring(tmp_path) -> tuple[dict[str, str], Path]:
    """keyrings.alt's plain-text keyring, in a data folder of the test's own; and its file."""
    data = tmp_path / "data"
    return {"PYTHON_KEYRING_BACKEND": PLAIN, "XDG_DATA_HOME": str(data)}, data / "python_keyring" / "keyring_pass.cfg"


def whoami_rows(result) -> dict[str, str]:
    return dict(line.split(None, 1) for line in result.stdout.splitlines())


def test_keyrings_alt_plain_text_file_is_named_as_such_by_login_and_whoami(fake, metrika, plain_keyring):
    env, cfg = plain_keyring
    login = metrika(*LOGIN, input=TOKEN, env=env)
    assert login.code == 0, login.output
    assert f"Stored in the keyring: keyrings.alt plain-text file {cfg} (service {keyring_service()})." in login.stderr
    assert "OS keyring" not in login.output
    assert cfg.is_file()  # it really went there
    whoami = metrika("whoami", env=env)
    assert whoami.code == 0, whoami.output
    fp = json.loads(metrika("whoami", "--json", env=env).stdout)["token"]["fingerprint"]
    assert (
        whoami_rows(whoami)["token"]
        == f"{fp}, keyring: keyrings.alt plain-text file {cfg} (service {keyring_service()})"
    )
    assert "OS keyring" not in whoami.output


def test_whoami_json_names_the_backend_and_its_file_and_keeps_the_token_keys(fake, metrika, plain_keyring):
    env, cfg = plain_keyring
    assert metrika(*LOGIN, input=TOKEN, env=env).code == 0
    document = json.loads(metrika("whoami", "--json", env=env).stdout)
    assert set(document["token"]) == {"source", "fingerprint"} and document["token"]["source"] == "keyring"
    assert document["storage"] == {"kind": "keyring", "backend": PLAIN, "path": str(cfg)}
    for offline in ((), ("--offline",)):  # status's items are whoami's documents
        (item,) = json.loads(metrika("status", "--json", *offline, env=env).stdout)["profiles"]
        assert item["storage"] == document["storage"]


def test_a_plain_text_file_of_metrika_is_named_by_its_path_and_no_keyring_is_loaded(fake, metrika, isolated):
    never_load = backend_env("UnloadableKeyring")  # loading it fails: naming must not load it
    login = metrika(*LOGIN, "--insecure-storage", input=TOKEN, env=never_load)
    assert login.code == 0, login.output
    credentials = isolated / "credentials.toml"
    assert login.stderr.rstrip().endswith(f"Stored in plain text in {credentials}.")
    whoami = metrika("whoami", env=never_load)
    assert whoami.code == 0, whoami.output
    assert whoami_rows(whoami)["token"].endswith(f", file: {credentials}")
    document = json.loads(metrika("whoami", "--json", env=never_load).stdout)
    assert document["storage"] == {"kind": "file", "backend": None, "path": str(credentials)}
    assert "Unloadable" not in login.output + whoami.output


def test_an_environment_token_has_no_storage(fake, metrika):
    document = json.loads(metrika("whoami", "--json", env={"METRIKA_TOKEN": TOKEN}).stdout)
    assert document["token"]["source"] == "env:METRIKA_TOKEN" and document["storage"] is None


def test_each_backend_is_named_as_people_know_it(monkeypatch, tmp_path):
    from keyring.backends import SecretService, chainer
    from keyrings.alt.file import EncryptedKeyring, PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    plain = PlaintextKeyring()

    class Chain(chainer.ChainerBackend):
        backends = [SecretService.Keyring(), plain]  # what keyring finds usable, in its order

    class Subclass(SecretService.Keyring):
        pass

    assert describe_backend(SecretService.Keyring()) == "Secret Service"
    assert describe_backend(Subclass()) == "Secret Service"
    assert describe_backend(plain) == f"keyrings.alt plain-text file {tmp_path}/python_keyring/keyring_pass.cfg"
    encrypted = EncryptedKeyring.__new__(EncryptedKeyring)  # its __init__ wants pycryptodome: not needed to name it
    assert describe_backend(encrypted) == f"keyrings.alt encrypted file {tmp_path}/python_keyring/crypted_pass.cfg"
    assert describe_backend(FileKeyring()) == "keyring_backends.FileKeyring"  # any other: its class
    assert describe_backend(Chain()) == (
        f"a chain of keyrings: Secret Service, keyrings.alt plain-text file {tmp_path}/python_keyring/keyring_pass.cfg"
    )


def test_in_russian_the_keyring_and_its_file_are_named_in_russian(fake, plain_keyring, metrika):
    env, cfg = plain_keyring
    result = metrika(*LOGIN, input=TOKEN, env={**env, "METRIKA_LANG": "ru"})
    assert result.code == 0, result.stderr
    assert (
        f"Токен сохранён в хранилище ключей: открытый текстовый файл keyrings.alt {cfg} (сервис {keyring_service()})."
        in (result.stderr)
    )
