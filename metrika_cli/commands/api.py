"""`metrika api`: call Metrika with the token in use, without ever showing it; a call that fails
says why, with check-access's diagnosis and fix. This module builds the call and prints the
result; sending, retrying, paging and decoding are the one client's (api.py). Its Typer function is
in commands/signatures.py: this module imports no Typer, so main.py's lean path runs a plain call
without Typer or click."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..advice import network_words, quota_words, rate_limit_reset, service_name
from ..env import Env
from ..errors import BadInput, Diagnosis, ExitCode, Failed
from ..evidence import Reply
from ..i18n import _
from ..os_errors import os_reason
from ..output import for_terminal, pretty_json, progress, say, transfer_progress, warn
from ..pacing import PARALLEL
from ..probe import Inquiry, inspect
from ..store import Profile
from ..text import escape_controls, fingerprint, shown, with_profile
from ..tokens import Token, chosen_profile, fix_profile, usable_token

if TYPE_CHECKING:  # httpx is imported only when a call is sent
    from ..api import Client, Outgoing, Pager

METHODS = ("GET", "POST", "PUT", "DELETE")
MAX_INPUT = 16 * 1024 * 1024  # bytes of --input, as much as an answer may hold
MAX_DIAGNOSED_IDS = 100  # counters a failed call's diagnosis checks: one filtered request
FULL_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
COUNTER_IN_PATH = re.compile(r"/counter/(\d+)(?:/|$)")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Call:
    """One `metrika api` call, checked: nothing in it is sent before all of it is valid."""

    method: str
    url: str  # the base URL and the path, without a query
    path: str  # the path under the base URL, from its first /
    params: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    paginate: bool = False
    include: bool = False
    ulogin: str | None = None
    form: list[tuple[str, str]] = field(default_factory=list)  # --form KEY=VALUE
    uploads: list[tuple[str, Path]] = field(default_factory=list)  # --form KEY=@FILE
    output: str | None = None  # --output FILE ('-': stdout)
    profile: str = "default"  # whose token: the commands a failure names carry it


def checked_run(
    env: Env,
    path: str,
    method: str | None,
    fields: list[str] | None,
    input_file: str | None,
    form: list[str] | None,
    paginate: bool,
    ulogin: str | None,
    include: bool,
    output: str | None,
) -> int:
    """The options as parsed (by Typer in commands/signatures.py, or by main.py's lean path), checked, then
    run: the profile as the dispatch resolved it."""
    name = chosen_profile(env)
    request = Request(method, fields or [], input_file, form or [], paginate, ulogin, include, output)
    call = build_call(env, path, request)
    return run(env, name, call)


# ---- the call, checked before anything is sent -----------------------------------------


@dataclass
class Request:
    """The options of `metrika api` as given, before they are checked."""

    method: str | None
    fields: list[str]
    input_file: str | None
    form: list[str]
    paginate: bool
    ulogin: str | None
    include: bool
    output: str | None


def build_call(env: Env, path: str, given: Request) -> Call:
    verb = ("POST" if given.form else "GET") if given.method is None else given.method.upper()
    if verb not in METHODS:
        given_method = shown(given.method or "", 20)
        raise BadInput(_("-X takes GET, POST, PUT or DELETE; got {value!r}.").format(value=given_method))
    check_combination(verb, given)
    url, under, query = target(env, path)
    pairs = [parse_field(item) for item in given.fields]
    body = read_input(env, given.input_file) if given.input_file is not None else None
    params = list(query)
    if verb in ("GET", "DELETE") or body is not None or given.form:
        params += pairs
    elif pairs:
        body = json_fields(pairs)
    if given.ulogin is not None:
        if not given.ulogin.strip() or any(ch.isspace() for ch in given.ulogin):
            raise BadInput(_("--ulogin needs a Yandex login; got {value!r}.").format(value=shown(given.ulogin, 40)))
        params.append(("ulogin", given.ulogin))
    form, uploads = parse_form(given.form)
    call = Call(verb, url, under, params, body, given.paginate, given.include, given.ulogin, form, uploads)
    call.output = checked_output(given.output)
    if given.paginate:
        check_pages(call)  # a bad offset or page size, or a CSV report, is refused now
    return call


def check_combination(verb: str, given: Request) -> None:
    """Options that cannot go together, refused before anything else."""
    if given.paginate and verb != "GET":
        raise BadInput(_("--paginate works with GET only; got -X {method}.").format(method=verb))
    if given.form and verb in ("GET", "DELETE"):
        raise BadInput(
            _("--form sends a multipart body: it needs -X POST or PUT; got -X {method}.").format(method=verb)
        )
    if given.form and given.input_file is not None:
        raise BadInput(_("--form and --input are two kinds of body: give one of them."))
    if given.paginate and given.output is not None:
        raise BadInput(
            _("--output writes one answer; --paginate prints one line per page on stdout: give one of them."),
            fix=[_("To keep every page in a file: `metrika api PATH --paginate > FILE`.")],
        )


def target(env: Env, raw: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(URL without its query, path under the base URL, query pairs) of PATH; never another host."""
    base = env.endpoints.api_url
    if not raw.strip() or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise BadInput(_("PATH must be a path such as /management/v1/counters, without spaces or control characters."))
    base_parts = urlsplit(base)
    if FULL_URL.match(raw):
        parts = urlsplit(raw)
        if not _same_origin(parts, base_parts):
            raise BadInput(
                _(
                    "{url} is not on {base}: metrika api sends the token to METRIKA_API_URL only "
                    "(same scheme, host and port). Nothing was sent."
                ).format(url=origin(parts), base=base),
                fix=[_("Give a path, e.g. `metrika api /management/v1/counters`.")],
            )
        path, url = parts.path or "/", base_parts._replace(path=parts.path, query="", fragment="").geturl()
        base_path = base_parts.path.rstrip("/")
        if base_path and (path + "/").startswith(base_path + "/"):
            path = path[len(base_path) :] or "/"
        query = parts.query
    else:
        relative, _hash, _fragment = raw.partition("#")
        relative, _mark, query = relative.partition("?")
        path = "/" + relative.lstrip("/")
        url = base + path
    return url, path, parse_qsl(query, keep_blank_values=True)


def origin(parts: Any) -> str:
    """scheme://host:port of a URL, without user, password, path or query: all a message needs."""
    return shown(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}", 200)


def _same_origin(parts: Any, base: Any) -> bool:
    try:
        port, base_port = parts.port, base.port
    except ValueError:  # a port out of range
        return False
    return (
        parts.scheme.lower() == base.scheme
        and (parts.hostname or "") == (base.hostname or "")
        and (port or DEFAULT_PORTS.get(parts.scheme.lower())) == (base_port or DEFAULT_PORTS.get(base.scheme))
        and not (parts.username or parts.password)
    )


def parse_field(item: str) -> tuple[str, str]:
    key, equals, value = item.partition("=")
    if not equals or not key:
        given = "=" + shown(value, 80) if equals else shown(item, 80)
        raise BadInput(_("-f takes KEY=VALUE with a key that is not empty; got {value!r}.").format(value=given))
    return key, value


def json_fields(pairs: list[tuple[str, str]]) -> bytes:
    """-f fields as a JSON object; the values stay strings (use --input for numbers or nesting)."""
    document: dict[str, str] = {}
    for key, value in pairs:
        if key in document:
            raise BadInput(
                _("-f {key}=… is given twice; a JSON body has one value per key.").format(key=shown(key, 40))
            )
        document[key] = value
    return json.dumps(document, ensure_ascii=False).encode()


def read_input(env: Env, name: str) -> bytes:
    """--input FILE (or - for standard input): JSON, sent as it is."""
    try:
        if name == "-":
            data = env.stdin.read(MAX_INPUT + 1).encode("utf-8", "surrogateescape")
        else:
            with Path(name).expanduser().open("rb") as handle:
                data = handle.read(MAX_INPUT + 1)
    except (OSError, UnicodeError) as exc:
        raise BadInput(_("Cannot read --input {file}: {error}.").format(file=name, error=os_reason(exc))) from None
    if len(data) > MAX_INPUT:
        raise BadInput(_("--input {file} is larger than 16 MiB.").format(file=name))
    try:
        json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BadInput(
            _("--input {file} is not JSON: {error}").format(file=name, error=str(exc)[:200] or exc.__class__.__name__)
        ) from None
    return data


def parse_form(items: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, Path]]]:
    """--form KEY=VALUE fields and KEY=@FILE uploads; each file must be readable now."""
    form, uploads = [], []
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise BadInput(
                _("--form takes KEY=VALUE or KEY=@FILE with a key that is not empty; got {value!r}.").format(
                    value=shown(item, 80)
                )
            )
        if not value.startswith("@"):
            form.append((key, value))
            continue
        path = Path(value[1:]).expanduser()
        try:
            with path.open("rb"):
                pass
            if not path.is_file():
                raise IsADirectoryError(21, "Is a directory")
        except OSError as exc:
            raise BadInput(
                _("Cannot read --form {key}=@{file}: {error}.").format(key=key, file=value[1:], error=os_reason(exc))
            ) from None
        uploads.append((key, path))
    return form, uploads


def checked_output(name: str | None) -> str | None:
    """--output FILE: a file that can be put in its folder (checked before anything is sent)."""
    if name is None or name == "-":
        return name
    path = Path(name).expanduser()
    folder = path.parent
    if path.is_dir():
        raise BadInput(_("--output {file} is a folder; give a file name.").format(file=name))
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(_("--output {file}: cannot write in the folder {folder}.").format(file=name, folder=folder))
    return str(path)


def check_pages(call: Call) -> None:
    """--paginate's offset and page size are whole numbers; a CSV report is one answer."""
    if call.path.startswith("/stat/") and call.path.lower().endswith(".csv"):
        raise BadInput(
            _(
                "{path} answers CSV in one piece (a header, the rows, a totals row): it has no pages to "
                "follow, so --paginate does not apply."
            ).format(path=call.path),
            fix=[
                _("For up to 100,000 rows, drop --paginate and add -f limit=100000."),
                _(
                    "For more, page the JSON report: `metrika api {path} --paginate` (one JSON line per page), "
                    "or ask for CSV page by page with -f offset=N -f limit=100000."
                ).format(path=call.path[: -len(".csv")]),
            ],
        )
    values = dict(call.params)
    size_key = "limit" if call.path.startswith("/stat/") else "per_page"
    for key in ("offset", size_key):
        value = values.get(key, "1")
        if not (value.isascii() and value.isdigit() and 0 < int(value) <= 10**9):
            raise BadInput(
                _("-f {key} must be a positive whole number; got {value!r}.").format(key=key, value=shown(value, 40))
            )


# ---- sending -----------------------------------------------------------------------------


def run(env: Env, name: str, call: Call) -> int:
    token, saved = usable_token(env, name)
    call.profile = name
    refuse_token_in_request(token.value, call)
    failed = asyncio.run(perform(env, token.value, call))  # `| head`: report_failure ends it, 141
    if failed is not None:
        explain(env, token, saved, call, failed)
    return int(ExitCode.OK)


def outgoing_of(call: Call) -> Outgoing:
    from ..api import Outgoing

    headers = {"Content-Type": "application/json"} if call.body is not None else {}
    return Outgoing(
        params=call.params,
        content=call.body,
        fields=call.form,
        uploads=call.uploads,
        headers=headers,
        expect_json=False,
    )


def retrying(env: Env) -> Callable[[Reply, float, int], None]:
    """What is said on stderr before a retry."""
    from .. import api as client

    def say_it(reply: Reply, wait: float, attempt: int) -> None:
        say(
            env,
            _("Metrika answered {what}; retrying in {seconds:g} s ({attempt} of {retries}).").format(
                what=answered(env, reply), seconds=wait, attempt=attempt + 1, retries=client.API.tries - 1
            ),
        )

    return say_it


async def perform(env: Env, token: str, call: Call) -> Reply | None:
    """Send the call (every page of it with --paginate; to a file with --output): the answer
    that failed, or None."""
    from .. import api as client

    async with client.Client(env, token, pacer=env.pacer(burst=PARALLEL), user=fingerprint(token)) as http:
        if call.paginate:
            return await paginate(env, http, call)
        if call.output is not None:
            return await download(env, http, call)
        reply = await http.request(
            call.method, call.url, client.API, outgoing=outgoing_of(call), on_retry=retrying(env)
        )
        show(env, call, reply, compact=False)
        return None if succeeded(reply) else reply


def succeeded(reply: Reply) -> bool:
    return reply.status is not None and 200 <= reply.status < 300 and not reply.broken


async def paginate(env: Env, http: Client, call: Call) -> Reply | None:
    """Every page, one compact JSON line each, in order; a report's page holds 100,000 rows
    unless -f limit says otherwise."""
    from .. import api as client

    paging = client.paging_of(call.path)
    params = list(call.params)
    if paging is client.REPORT_PAGES and "limit" not in dict(params):
        params.append(("limit", str(client.REPORT_PAGE_SIZE)))
    pager = client.Pager(http, call.url, params, paging, client.API, on_retry=retrying(env))
    pages = pager.pages()
    first = await anext(pages, None)
    if first is not None:
        show(env, call, first, compact=True)
        with progress(env, pager.expected or 1, _("pages")) as advance:
            advance()
            async for page in pages:
                show(env, call, page, compact=True)
                advance()
    return pages_outcome(env, pager, paging.rows_key)


def pages_outcome(env: Env, pager: Pager, rows_key: str) -> Reply | None:
    from .. import api as client

    if pager.failed is not None:
        return pager.failed
    if pager.problem is not None:
        return pager.problem
    if pager.not_a_list:
        warn(env, _("The answer has no {key} list: it is not a list metrika can page through.").format(key=rows_key))
    if pager.more_from is not None:
        raise Failed(
            Diagnosis.UNEXPECTED_RESPONSE,
            _(
                "Stopped after {pages} pages, although there may be more; the next page starts at "
                "offset {offset} (-f offset={offset}, or ask for larger pages)."
            ).format(pages=client.MAX_PAGES, offset=pager.more_from),
        )
    return None


def refuse_token_in_request(token: str, call: Call) -> None:
    """The token goes in the Authorization header only: never in a URL, a query or a body."""
    in_params = any(token in key or token in value for key, value in [*call.params, *call.form])
    if token in call.url or in_params or (call.body is not None and token.encode() in call.body):
        raise BadInput(
            _(
                "The token in use is in PATH, a -f field or --input: metrika sends it in the Authorization "
                "header only. Nothing was sent."
            )
        )


async def download(env: Env, http: Client, call: Call) -> Reply | None:
    """--output: the body into a temporary file beside FILE, renamed into place only when all of
    it came (a failure leaves FILE as it was); '-' streams it to stdout."""
    from .. import api as client

    with destination(env, call.output or "-") as (handle, keep):
        with transfer_progress(env) as advance:
            outgoing = outgoing_of(call)
            outgoing.sink = client.Sink(handle.write, advance)  # each piece written as it comes
            reply = await http.request(call.method, call.url, client.API, outgoing=outgoing, on_retry=retrying(env))
        if call.include:
            show_headers(env, reply)
        if not succeeded(reply):
            return reply  # stdout stays empty: the message on stderr says what Metrika answered
        keep()
    return None


@contextlib.contextmanager
def destination(env: Env, name: str) -> Iterator[tuple[Any, Callable[[], None]]]:
    """(a binary file to write the body to, `keep`: put it in place); without `keep`, nothing changes."""
    if name == "-":
        env.stdout.flush()
        yield getattr(env.stdout, "buffer", None) or _TextSink(env.stdout), lambda: None
        return
    path = Path(name)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by keep, or below)
            dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise BadInput(_("Cannot write --output {file}: {error}.").format(file=name, error=os_reason(exc))) from None
    kept = False

    def keep() -> None:
        nonlocal kept
        handle.close()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(handle.name, 0o666 & ~mask)  # as any new file, not the temporary file's 0600
        os.replace(handle.name, path)
        kept = True

    try:
        yield handle, keep
    finally:
        if not kept:
            handle.close()
            with contextlib.suppress(OSError):
                os.unlink(handle.name)


class _TextSink:
    """Bytes written to a text stream (a test's stdout), decoded as they come."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.write(data.decode("utf-8", "replace"))
        return len(data)


# ---- output ------------------------------------------------------------------------------


def show(env: Env, call: Call, reply: Reply, compact: bool) -> None:
    """The answer's body on stdout (a compact JSON line per page with --paginate); with
    --include, its status line and headers on stderr first."""
    if reply.status is None:
        return
    if call.include:
        show_headers(env, reply)
    if compact:
        line = json.dumps(reply.data, ensure_ascii=False, separators=(",", ":")) if reply.data is not None else None
        line = line or reply.raw.decode("utf-8", "replace").strip()
        env.stdout.write((escape_controls(line) if env.stdout_tty else line) + "\n")
        env.stdout.flush()
    elif env.stdout_tty:
        pretty_json(env, reply.raw)
    else:
        write_bytes(env, reply.raw)


def show_headers(env: Env, reply: Reply) -> None:
    """--include: the status line and the headers on stderr, redacted like every other line."""
    if reply.status is None:
        return
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = ""
    headers = [f"{for_terminal(env, name)}: {for_terminal(env, value)}" for name, value in reply.headers]
    env.stderr.write("\n".join([f"HTTP {reply.status} {phrase}".rstrip(), *headers]) + "\n\n")
    env.stderr.flush()


def write_bytes(env: Env, data: bytes) -> None:
    """The bytes as they came, where the stream has a binary side (a real stdout)."""
    env.stdout.flush()
    buffer = getattr(env.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        env.stdout.write(data.decode("utf-8", "replace"))
        env.stdout.flush()


def error_of(reply: Reply) -> tuple[str, str]:
    """(error_type, message) from a Metrika error body; empty strings where it has none."""
    data = reply.data if isinstance(reply.data, dict) else {}
    errors = data.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = first.get("message") or data.get("message") or ""
    return reply.error_type or "", str(message)[:300]


def answered(env: Env, reply: Reply) -> str:
    """What Metrika answered, in a few words: `HTTP 403 access_denied (Access is denied)`, or the network failure."""
    if reply.network:
        from ..api import proxy_for

        proxy = proxy_for(env.environ, env.endpoints.api_url)
        return network_words(reply.network, reply.host, proxy[1] if proxy else None, env.endpoints.timeout)
    if reply.html:
        return _("an HTML page (HTTP {status}), probably from a proxy").format(status=reply.status)
    error_type, message = error_of(reply)
    what = f"HTTP {reply.status} {error_type}".strip()
    return f"{what} ({message})" if message else what


# ---- a failure, explained ----------------------------------------------------------------


def explain(env: Env, token: Token, saved: Profile, call: Call, reply: Reply) -> None:
    """A failed call as the error it ends in: 401, 403 and 429 through check-access's diagnosis."""
    if reply.network:
        what = answered(env, reply)
        raise Failed(
            Diagnosis.NETWORK_ERROR,
            _("Network error talking to {service}: {what}.").format(service=service_name("Metrika"), what=what),
        )
    if reply.status is None or (reply.broken and reply.status == 200):
        raise body_trouble(reply)
    if reply.status in (401, 403, 420, 429):
        diagnose_refusal(env, token, saved, call, reply)
    diagnosis = Diagnosis.SERVICE_UNAVAILABLE if reply.status >= 500 else Diagnosis.UNEXPECTED_RESPONSE
    fix = [rate_limit_reset("", env.now(), reply.retry_after)] if reply.retry_after is not None else []
    raise Failed(diagnosis, _("Metrika answered {what}.").format(what=answered(env, reply)), fix)


def body_trouble(reply: Reply) -> Failed:
    """An answer metrika will not take as it is: unexpected_response, and why."""
    if reply.detail == "too_large":
        return Failed(
            Diagnosis.UNEXPECTED_RESPONSE,
            _("Metrika's answer is larger than 16 MiB."),
            [
                _("Ask for less: a smaller -f limit (or -f per_page) with --paginate."),
                _("Or write it to a file as it arrives, with no size limit: --output FILE."),
            ],
        )
    if reply.detail == "encoding":
        message = _(
            "Metrika's answer is compressed as {encoding!r}: metrika asks for one layer of gzip or deflate and "
            "decodes nothing else."
        ).format(encoding=str(reply.data))
    elif reply.detail == "broken_encoding":
        message = _("Metrika's answer is not the compressed data its Content-Encoding says it is.")
    elif reply.detail == "absurd_numbers":
        message = _("Metrika answered a page whose row count or total no list can have.")
    else:
        message = _("Metrika answered 200 with a body that is not the JSON it says it is.")
    return Failed(
        Diagnosis.UNEXPECTED_RESPONSE,
        message,
        [_("Retry; if it persists, check for a proxy, and run with METRIKA_DEBUG=1.")],
    )


def counter_ids_of(call: Call) -> list[int]:
    """The counters a call is about: /counter/{id}/… in the path, else the ids= of a report."""
    match = COUNTER_IN_PATH.search(call.path)
    if match:
        return [int(match.group(1))]
    if not call.path.startswith("/stat/"):
        return []
    parts = [part for key, value in call.params if key in ("ids", "id") for part in value.replace(" ", ",").split(",")]
    ids = [int(part) for part in parts if part.isascii() and part.isdigit() and 0 < len(part) <= 20 and int(part)]
    return list(dict.fromkeys(ids))[:MAX_DIAGNOSED_IDS]


def diagnose_refusal(env: Env, token: Token, saved: Profile, call: Call, reply: Reply) -> None:
    """Run check-access's checks for this call's counters and need; when they all pass, the
    refusal is about the call itself: say what Metrika answered, and what may be behind it."""
    need = "read" if call.method == "GET" else "write"
    ids = [] if call.ulogin else counter_ids_of(call)
    expected_login = saved.login if token.stored else None
    inquiry = Inquiry(call.profile, counter_ids=tuple(ids), need=need, expected_login=expected_login)
    verdict = inspect(env, token, saved, inquiry).verdict
    if not verdict.ok:
        # check-access's `--need read` is no way out for a call that writes
        fix = [step for step in verdict.fix if "--need" not in step]
        raise Failed(verdict.code, f"{verdict.code}: {verdict.summary}", fix, [*verdict.evidence, *verdict.warnings])
    details = [_("check-access finds nothing wrong with the token: {summary}").format(summary=verdict.summary)]
    if reply.status in (420, 429):
        what = quota_words(reply.error_type or "")
        details.append(
            _("{service} refused the request: {what} was exceeded.").format(service=service_name("Metrika"), what=what)
        )
    diagnosis = {401: Diagnosis.HEADER_REJECTED, 403: Diagnosis.INSUFFICIENT_PERMISSION}.get(
        reply.status or 0, Diagnosis.RATE_LIMITED
    )
    implicit = fix_profile(env)
    raise Failed(
        diagnosis,
        _("Metrika refused this call: {what}.").format(what=answered(env, reply)),
        [with_profile(hint, call.profile, implicit) for hint in refusal_hints(env, call, reply, need)],
        details,
    )


def refusal_hints(env: Env, call: Call, reply: Reply, need: str) -> list[str]:
    """What to do about a refusal that the token's checks do not explain."""
    if reply.status in (420, 429):
        return [rate_limit_reset(reply.error_type or "", env.now(), reply.retry_after)]
    hints = []
    if call.ulogin:
        hints.append(
            _("Check that {login} is among the accounts you represent: `metrika api /management/v1/accounts`.").format(
                login=call.ulogin
            )
        )
    if need == "write":
        hints.append(
            _(
                "Changing things needs metrika:write: if your app lacks it, or the token is older than that right, "
                "tick it on the app's page and get a new token with `metrika login --force-confirm`."
            )
        )
    if reply.status == 401:
        hints.append(_("Run `metrika check-access` to see whether the token itself works."))
    elif not hints:
        hints.append(_("Check the counter or object in PATH: the token's owner may have no access to it."))
    return hints
