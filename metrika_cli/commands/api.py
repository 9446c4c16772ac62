"""`metrika api`: call Metrika with the token in use, without ever showing it; a call that fails
says why, with check-access's diagnosis and fix."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional
from urllib.parse import parse_qsl, urlsplit

import typer

from ..diagnose import NETWORK, QUOTAS, Reply, service_name
from ..env import Env
from ..errors import BadInput
from ..i18n import _
from ..os_errors import os_reason
from ..output import pretty_json, progress, render_verdict, say, steps, warn
from ..pacing import PARALLEL, Pacer
from ..probe import Options, collect
from ..store import Profile
from ..text import escape_controls, fingerprint, shown, with_profile
from ..tokens import Token, checked_profile, fix_profile, profile_name, usable_token
from .options import ProfileOption

if TYPE_CHECKING:  # httpx is imported only when a call is sent
    from ..api import Client

METHODS = ("GET", "POST", "PUT", "DELETE")
RETRIES = 3  # retries after the first attempt
BACKOFF = (1.0, 2.0, 4.0)  # seconds before each retry when the server does not say (Retry-After)
MAX_WAIT = 60.0  # a longer Retry-After is not waited out: the failure is explained at once
RETRIED_NETWORK = ("refused", "timeout", "cut", "other")  # not dns, tls, proxy: seconds do not mend those
MAX_PAGES = 1000  # --paginate never fetches more, whatever total the server claims
PAGE_SIZE = 1000  # rows a page when -f per_page / -f limit does not say: Metrika's largest per_page
MAX_INPUT = 16 * 1024 * 1024  # bytes of --input, as much as an answer may hold
AHEAD = 2 * PARALLEL  # pages requested ahead of the one being printed
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
    profile: str = "default"  # whose token: the commands a failure names carry it


def api(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(metavar="PATH", help=_("A path under METRIKA_API_URL, e.g. /management/v1/counters."))
    ],
    method: Annotated[
        str, typer.Option("--method", "-X", metavar="METHOD", help=_("GET (the default), POST, PUT or DELETE."))
    ] = "GET",
    fields: Annotated[
        Optional[list[str]],
        typer.Option(
            "--field",
            "-f",
            metavar="KEY=VALUE",
            help=_("A query parameter (GET, DELETE, or with --input) or a JSON body field (POST, PUT); repeatable."),
        ),
    ] = None,
    input_file: Annotated[
        Optional[str],
        typer.Option("--input", metavar="FILE", help=_("Send the JSON in FILE as the body ('-': standard input).")),
    ] = None,
    paginate: Annotated[
        bool, typer.Option("--paginate", help=_("Fetch every page of a list or report: one JSON line per page."))
    ] = False,
    ulogin: Annotated[
        Optional[str], typer.Option("--ulogin", metavar="LOGIN", help=_("Act for this represented account."))
    ] = None,
    include: Annotated[
        bool, typer.Option("--include", "-i", help=_("Print the status line and headers (on stderr) first."))
    ] = False,
    profile: ProfileOption = None,
) -> int:
    env: Env = ctx.obj
    name = checked_profile(profile_name(env, profile))
    call = build_call(env, path, method, fields or [], input_file, paginate, ulogin, include)
    return run(env, name, call)


# ---- the call, checked before anything is sent -----------------------------------------


def build_call(
    env: Env,
    path: str,
    method: str,
    fields: list[str],
    input_file: str | None,
    paginate: bool,
    ulogin: str | None,
    include: bool,
) -> Call:
    verb = method.upper()
    if verb not in METHODS:
        raise BadInput(_("-X takes GET, POST, PUT or DELETE; got {value!r}.").format(value=shown(method, 20)))
    if paginate and verb != "GET":
        raise BadInput(_("--paginate works with GET only; got -X {method}.").format(method=verb))
    url, under, query = target(env, path)
    pairs = [parse_field(item) for item in fields]
    body = read_input(env, input_file) if input_file is not None else None
    params = list(query)
    if verb in ("GET", "DELETE") or body is not None:
        params += pairs
    elif pairs:
        body = json_fields(pairs)
    if ulogin is not None:
        if not ulogin.strip() or any(ch.isspace() for ch in ulogin):
            raise BadInput(_("--ulogin needs a Yandex login; got {value!r}.").format(value=shown(ulogin, 40)))
        params.append(("ulogin", ulogin))
    call = Call(verb, url, under, params, body, paginate, include, ulogin)
    if paginate:
        page_window(call)  # a bad offset or page size is refused now
    return call


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


def page_window(call: Call) -> tuple[str, str, int, int]:
    """(size parameter, total key, first offset, page size) of a paginated call."""
    size_key, total_key = ("limit", "total_rows") if call.path.startswith("/stat/") else ("per_page", "rows")
    values = dict(call.params)
    numbers = []
    for key, default in (("offset", 1), (size_key, PAGE_SIZE)):
        value = values.get(key, str(default))
        if not (value.isascii() and value.isdigit() and 0 < int(value) <= 10**9):
            raise BadInput(
                _("-f {key} must be a positive whole number; got {value!r}.").format(key=key, value=shown(value, 40))
            )
        numbers.append(int(value))
    return size_key, total_key, numbers[0], numbers[1]


def with_page(call: Call, offset: int) -> list[tuple[str, str]]:
    size_key, _total, _start, size = page_window(call)
    kept = [(key, value) for key, value in call.params if key not in ("offset", size_key)]
    return [*kept, ("offset", str(offset)), (size_key, str(size))]


# ---- sending -----------------------------------------------------------------------------


def run(env: Env, name: str, call: Call) -> int:
    token, saved = usable_token(env, name)
    call.profile = name
    refuse_token_in_request(token.value, call)
    failed, more_from = asyncio.run(perform(env, token.value, call))  # `| head`: report_failure ends it, 141
    if failed is not None:
        return explain(env, token, saved, call, failed)
    if more_from is not None:
        error(
            env,
            _(
                "Stopped after {pages} pages, although the server's total says there is more; the next page starts at "
                "offset {offset} (-f offset={offset}, or ask for larger pages)."
            ).format(pages=MAX_PAGES, offset=more_from),
        )
        return 1
    return 0


def refuse_token_in_request(token: str, call: Call) -> None:
    """The token goes in the Authorization header only: never in a URL, a query or a body."""
    in_params = any(token in key or token in value for key, value in call.params)
    if token in call.url or in_params or (call.body is not None and token.encode() in call.body):
        raise BadInput(
            _(
                "The token in use is in PATH, a -f field or --input: metrika sends it in the Authorization "
                "header only. Nothing was sent."
            )
        )


async def perform(env: Env, token: str, call: Call) -> tuple[Reply | None, int | None]:
    """Send the call, every page of it with --paginate: (the answer that failed, the offset where
    the page ceiling stopped the paging), each None when there was none."""
    from ..api import Client

    pacer = Pacer(burst=PARALLEL)
    async with Client(env, token, pacer=pacer, user=fingerprint(token)) as client:
        params = with_page(call, page_window(call)[2]) if call.paginate else call.params
        first = await send(env, client, call, params)
        if not succeeded(first):
            show(env, call, first, compact=call.paginate)
            return first, None
        if not call.paginate:
            show(env, call, first, compact=False)
            return None, None
        return await paginate(env, client, call, first)


async def send(env: Env, client: Client, call: Call, params: list[tuple[str, str]]) -> Reply:
    """One request, retried: a 429 always (Metrika refused it before doing anything), a 5xx or a
    network failure only for GET (a write that may have happened is never repeated)."""
    for attempt in itertools.count():
        async with client.pacer.slot(client.user):
            reply = await client.send("Metrika", call.method, call.url, params, call.body)
        wait = retry_wait(call.method, reply, attempt)
        if wait is None:
            return reply
        say(
            env,
            _("Metrika answered {what}; retrying in {seconds:g} s ({attempt} of {retries}).").format(
                what=answered(env, reply), seconds=wait, attempt=attempt + 1, retries=RETRIES
            ),
        )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def retry_wait(method: str, reply: Reply, attempt: int) -> float | None:
    """Seconds to wait before retrying `reply`'s request, or None: do not retry."""
    if attempt >= RETRIES:
        return None
    transient = reply.network in RETRIED_NETWORK or (reply.status or 0) >= 500
    if reply.status != 429 and not (method == "GET" and transient):
        return None
    wait = reply.retry_after if reply.retry_after is not None else BACKOFF[attempt]
    return wait if wait <= MAX_WAIT else None


def succeeded(reply: Reply) -> bool:
    return reply.status is not None and 200 <= reply.status < 300 and reply.detail != "too_large"


async def paginate(env: Env, client: Client, call: Call, first: Reply) -> tuple[Reply | None, int | None]:
    _size_key, total_key, start, size = page_window(call)
    total = first.data.get(total_key) if isinstance(first.data, dict) else None
    if not isinstance(total, int) or isinstance(total, bool):
        show(env, call, first, compact=True)
        warn(env, _("The answer has no {key}: it is not a list metrika can page through.").format(key=total_key))
        return None, None
    offsets = range(start + size, total + 1, size)
    more_from = offsets[MAX_PAGES - 1] if len(offsets) >= MAX_PAGES else None
    offsets = offsets[: MAX_PAGES - 1]
    with progress(env, 1 + len(offsets), _("pages")) as advance:
        show(env, call, first, compact=True)
        advance()
        failed = await rest_of_pages(env, client, call, offsets, advance)
    return failed, None if failed else more_from


async def rest_of_pages(
    env: Env, client: Client, call: Call, offsets: range, advance: Callable[[], None]
) -> Reply | None:
    """The pages after the first, at most AHEAD requested at once (the pacer lets PARALLEL go),
    printed in order; the first page that fails stops the rest."""
    pending: deque[asyncio.Task[Reply]] = deque()
    waiting: Iterator[int] = iter(offsets)

    def request_more() -> None:
        for offset in itertools.islice(waiting, AHEAD - len(pending)):
            pending.append(asyncio.ensure_future(send(env, client, call, with_page(call, offset))))

    try:
        request_more()
        while pending:
            reply = await pending.popleft()
            show(env, call, reply, compact=True)
            if not succeeded(reply):
                return reply
            advance()
            request_more()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return None


# ---- output ------------------------------------------------------------------------------


def show(env: Env, call: Call, reply: Reply, compact: bool) -> None:
    """The answer's body on stdout (a compact JSON line per page with --paginate); with
    --include, its status line and headers on stderr first."""
    if reply.status is None:
        return
    if call.include:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP {reply.status} {phrase}".rstrip(), *(f"{name}: {value}" for name, value in reply.headers)]
        env.stderr.write(escape_controls("\n".join(lines)) + "\n\n")
        env.stderr.flush()
    if compact:
        line = json.dumps(reply.data, ensure_ascii=False, separators=(",", ":")) if reply.data is not None else None
        line = line or reply.raw.decode("utf-8", "replace").strip()
        env.stdout.write((escape_controls(line) if env.stdout_tty else line) + "\n")
        env.stdout.flush()
    elif env.stdout_tty:
        pretty_json(env, reply.raw)
    else:
        write_bytes(env, reply.raw)


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


def error(env: Env, message: str) -> None:
    say(env, _("error: {message}").format(message=message), style="bold red")


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
        return _(NETWORK.get(reply.network, NETWORK["other"])).format(
            host=reply.host, proxy=proxy[1] if proxy else "", timeout=env.endpoints.timeout
        )
    if reply.html:
        return _("an HTML page (HTTP {status}), probably from a proxy").format(status=reply.status)
    error_type, message = error_of(reply)
    what = f"HTTP {reply.status} {error_type}".strip()
    return f"{what} ({message})" if message else what


# ---- a failure, explained ----------------------------------------------------------------


def explain(env: Env, token: Token, saved: Profile, call: Call, reply: Reply) -> int:
    """A failed call's message and exit code: 401, 403 and 429 through check-access's diagnosis."""
    if reply.network:
        what = answered(env, reply)
        error(env, _("Network error talking to {service}: {what}.").format(service=service_name("Metrika"), what=what))
        return 6
    if reply.detail == "too_large":
        error(env, _("Metrika's answer is larger than 16 MiB."))
        steps(env, [_("Ask for less: a smaller -f limit (or -f per_page) with --paginate.")])
        return 1
    if reply.status in (401, 403, 429):
        return diagnose_refusal(env, token, saved, call, reply)
    error(env, _("Metrika answered {what}.").format(what=answered(env, reply)))
    return 6 if (reply.status or 0) >= 500 else 1


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


def diagnose_refusal(env: Env, token: Token, saved: Profile, call: Call, reply: Reply) -> int:
    """Run check-access's checks for this call's counters and need; when they all pass, the
    refusal is about the call itself: say what Metrika answered, and what may be behind it."""
    need = "read" if call.method == "GET" else "write"
    ids = [] if call.ulogin else counter_ids_of(call)
    expected_login = saved.login if token.stored else None
    options = Options(name=call.profile)
    verdict, _evidence = collect(env, token, saved, ids, need, expected_login, all_pages=False, options=options)
    if not verdict.ok:
        # check-access's `--need read` is no way out for a call that writes
        verdict.fix = [step for step in verdict.fix if "--need" not in step]
        render_verdict(env, verdict)
        return int(verdict.exit_code)
    error(env, _("Metrika refused this call: {what}.").format(what=answered(env, reply)))
    say(env, "  " + _("check-access finds nothing wrong with the token: {summary}").format(summary=verdict.summary))
    if reply.status == 429:
        quota = reply.error_type or ""
        what = _(QUOTAS[quota]) if quota in QUOTAS else (quota or _("a request quota"))
        say(
            env,
            "  "
            + _("{service} refused the request: {what} was exceeded.").format(
                service=service_name("Metrika"), what=what
            ),
        )
    implicit = fix_profile(env)
    steps(env, [with_profile(hint, call.profile, implicit) for hint in refusal_hints(call, reply, need)])
    return {401: 4, 403: 5}.get(reply.status or 0, 6)


def refusal_hints(call: Call, reply: Reply, need: str) -> list[str]:
    """What to do about a refusal that the token's checks do not explain."""
    if reply.status == 429:
        if reply.retry_after is not None:
            seconds = math.ceil(reply.retry_after)
            return [_("Retry in {seconds} s, as the server asks (Retry-After).").format(seconds=seconds)]
        return [_("Wait a few seconds and retry.")]
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
