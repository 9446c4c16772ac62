"""Exit codes, diagnosis codes and the errors that carry them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What scripts read: 3 log in, 4 log in again, 5 ask for access, 6 retry later."""

    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    NO_TOKEN = 3
    LOG_IN_AGAIN = 4
    NO_ACCESS = 5
    RETRY_LATER = 6
    STORE_UNAVAILABLE = 7
    INTERRUPTED = 130


EXIT_CODES: dict[str, ExitCode] = {
    "ok": ExitCode.OK,
    "no_token": ExitCode.NO_TOKEN,
    "token_malformed": ExitCode.LOG_IN_AGAIN,
    "header_rejected": ExitCode.LOG_IN_AGAIN,
    "token_invalid": ExitCode.LOG_IN_AGAIN,
    "wrong_app": ExitCode.NO_ACCESS,
    "scope_missing": ExitCode.NO_ACCESS,
    "wrong_account": ExitCode.NO_ACCESS,
    "no_counter_access": ExitCode.NO_ACCESS,
    "insufficient_permission": ExitCode.NO_ACCESS,
    "rate_limited": ExitCode.RETRY_LATER,
    "service_unavailable": ExitCode.RETRY_LATER,
    "network_error": ExitCode.RETRY_LATER,
    "unexpected_response": ExitCode.ERROR,
    "bad_input": ExitCode.BAD_INPUT,
    "store_unavailable": ExitCode.STORE_UNAVAILABLE,
    "internal_error": ExitCode.ERROR,
    "interrupted": ExitCode.INTERRUPTED,
}


class MetrikaError(Exception):
    """An outcome that ends a command: a message, the steps to fix it, a diagnosis code.

    The message must never contain a token: callers describe it by fingerprint.
    """

    diagnosis = "internal_error"

    def __init__(self, message: str, fix: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = list(fix or [])

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.diagnosis]


class BadInput(MetrikaError):
    diagnosis = "bad_input"


class NoToken(MetrikaError):
    diagnosis = "no_token"


class StoreUnavailable(MetrikaError):
    diagnosis = "store_unavailable"


class ConfigError(MetrikaError):
    """The config or credentials file is corrupt or cannot be written."""

    diagnosis = "internal_error"


class TokenMalformed(MetrikaError):
    diagnosis = "token_malformed"
