"""A run whose every base URL is plain http (the loopback fake, a local proxy) builds no TLS
context with certificates: loading certifi's bundle costs about 15 ms a run, for nothing. One
https base URL and the certificates are loaded as always; the context used instead trusts
nothing, so TLS it were ever asked for would fail, never pass unchecked."""

from __future__ import annotations

import ssl

import pytest
from conftest import TOKEN

from metrika_cli.api import no_tls


@pytest.fixture
def loaded(monkeypatch) -> list[object]:
    """Every load of trusted certificates into an SSL context, this test."""
    calls: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def load(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        calls.append(args or kwargs)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", load)
    return calls


def test_a_plain_http_run_loads_no_certificates(fake, metrika, loaded):
    result = metrika("whoami", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 0, result.stderr
    assert loaded == []


def test_one_https_base_url_loads_them_as_always(fake, metrika, loaded):
    result = metrika("whoami", env={"METRIKA_TOKEN": TOKEN, "METRIKA_OAUTH_URL": "https://oauth.yandex.ru"})
    assert result.code == 0, result.stderr  # whoami asks Yandex ID and Metrika only: the fake
    assert loaded


def test_the_context_of_a_plain_run_trusts_nothing():
    context = no_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() == [] and context.cert_store_stats()["x509_ca"] == 0
