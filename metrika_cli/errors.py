"""Exit codes, diagnosis codes and the errors that carry them. Imports nothing of metrika's."""

from __future__ import annotations

from enum import IntEnum, StrEnum


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
    CANNOT_EXECUTE = 126  # exec: the command was found but cannot be run, as shells say
    NOT_FOUND = 127  # exec: no such command, as shells say
    INTERRUPTED = 130
    CLOSED_OUTPUT = 141  # as a shell reports a process ended by SIGPIPE (`| head`)


class Diagnosis(StrEnum):
    """Every outcome a command can end in, as `--json` names it; each carries its exit code."""

    OK = "ok"
    NO_TOKEN = "no_token"
    TOKEN_MALFORMED = "token_malformed"
    HEADER_REJECTED = "header_rejected"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRING = "token_expiring"
    WRONG_APP = "wrong_app"
    SCOPE_MISSING = "scope_missing"
    WRONG_ACCOUNT = "wrong_account"
    NO_COUNTER_ACCESS = "no_counter_access"
    INSUFFICIENT_PERMISSION = "insufficient_permission"
    RATE_LIMITED = "rate_limited"
    SERVICE_UNAVAILABLE = "service_unavailable"
    NETWORK_ERROR = "network_error"
    UNEXPECTED_RESPONSE = "unexpected_response"
    BAD_INPUT = "bad_input"
    STORE_UNAVAILABLE = "store_unavailable"
    INTERNAL_ERROR = "internal_error"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]


_EXIT_CODES: dict[Diagnosis, ExitCode] = {
    Diagnosis.OK: ExitCode.OK,
    Diagnosis.NO_TOKEN: ExitCode.NO_TOKEN,
    Diagnosis.TOKEN_MALFORMED: ExitCode.LOG_IN_AGAIN,
    Diagnosis.HEADER_REJECTED: ExitCode.LOG_IN_AGAIN,
    Diagnosis.TOKEN_INVALID: ExitCode.LOG_IN_AGAIN,
    Diagnosis.TOKEN_EXPIRING: ExitCode.LOG_IN_AGAIN,
    Diagnosis.WRONG_APP: ExitCode.NO_ACCESS,
    Diagnosis.SCOPE_MISSING: ExitCode.NO_ACCESS,
    Diagnosis.WRONG_ACCOUNT: ExitCode.NO_ACCESS,
    Diagnosis.NO_COUNTER_ACCESS: ExitCode.NO_ACCESS,
    Diagnosis.INSUFFICIENT_PERMISSION: ExitCode.NO_ACCESS,
    Diagnosis.RATE_LIMITED: ExitCode.RETRY_LATER,
    Diagnosis.SERVICE_UNAVAILABLE: ExitCode.RETRY_LATER,
    Diagnosis.NETWORK_ERROR: ExitCode.RETRY_LATER,
    Diagnosis.UNEXPECTED_RESPONSE: ExitCode.ERROR,
    Diagnosis.BAD_INPUT: ExitCode.BAD_INPUT,
    Diagnosis.STORE_UNAVAILABLE: ExitCode.STORE_UNAVAILABLE,
    Diagnosis.INTERNAL_ERROR: ExitCode.ERROR,
    Diagnosis.INTERRUPTED: ExitCode.INTERRUPTED,
}


class MetrikaError(Exception):
    """An outcome that ends a command: a message, the steps to fix it, a diagnosis.

    The message must never contain a token: callers describe it by fingerprint.
    """

    diagnosis = Diagnosis.INTERNAL_ERROR

    def __init__(self, message: str, fix: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = list(fix or [])

    @property
    def exit_code(self) -> ExitCode:
        return self.diagnosis.exit_code


class BadInput(MetrikaError):
    diagnosis = Diagnosis.BAD_INPUT


class NoToken(MetrikaError):
    diagnosis = Diagnosis.NO_TOKEN


class StoreUnavailable(MetrikaError):
    diagnosis = Diagnosis.STORE_UNAVAILABLE


class ConfigError(MetrikaError):
    """The config or credentials file is corrupt, unsafe, or cannot be written."""

    diagnosis = Diagnosis.INTERNAL_ERROR


class TokenMalformed(MetrikaError):
    diagnosis = Diagnosis.TOKEN_MALFORMED


class Interrupted(MetrikaError):
    diagnosis = Diagnosis.INTERRUPTED


class Failed(MetrikaError):
    """An outcome whose diagnosis is known only when it happens (a call that Metrika refused, a
    network failure): `details` are lines said after the message, before the steps."""

    def __init__(
        self, diagnosis: Diagnosis, message: str, fix: list[str] | None = None, details: list[str] | None = None
    ) -> None:
        super().__init__(message, fix)
        self.diagnosis = diagnosis
        self.details = list(details or [])
