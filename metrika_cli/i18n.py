"""The user's language: METRIKA_LANG, else the locale variables; gettext catalogs.

The language belongs to the run, not to the process: each `Env` reads it from its own environ
(`Env.translations`) and main() installs it for the run (`speaking`), so `_` speaks the language
of the Env in use and in-process tests can run in any language. Outside a run, `_` is English:
texts translated when a module is imported (help texts) are msgids, translated where shown.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "metrika"
LANGUAGES = ("en", "ru")


def detect_language(environ: Mapping[str, str]) -> str:
    """`METRIKA_LANG` (en/ru) wins; then the first set of LC_ALL, LC_MESSAGES, LANG."""
    chosen = environ.get("METRIKA_LANG", "").strip().lower()
    if chosen[:2] in LANGUAGES:
        return chosen[:2]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    return "en"


@functools.cache
def load(language: str) -> gettext.NullTranslations:
    """The catalog of a language, read once a process."""
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


# The translators in use, innermost last: English until a run installs its Env's.
_speaking: list[gettext.NullTranslations] = [load("en")]


@contextlib.contextmanager
def speaking(translations: gettext.NullTranslations) -> Iterator[None]:
    """`_` (and click's and Typer's texts) in this translator's language for the duration."""
    _speaking.append(translations)
    _translate_framework_constants()
    try:
        yield
    finally:
        _speaking.pop()
        _translate_framework_constants()


def _(message: str) -> str:
    """Translate a message into the language of the run."""
    return _speaking[-1].gettext(message)


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; `_()` translates it where shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _speaking[-1].ngettext(singular, plural, n)


# ---- click and Typer -------------------------------------------------------------------
# click and Typer word their help and usage errors ("Usage:", "Options", "No such option ...")
# through the standard library's `gettext.gettext`/`ngettext`, which look in the "messages"
# domain: never ours. Those lookups are routed through metrika's catalog first (the framework
# strings are listed in framework_messages.py, so `scripts/i18n.py extract` keeps them in the
# catalog); anything not there falls back to the original function.

_FRAMEWORKS = ("click", "typer")
# click starts a usage error with "Error: "; metrika's own errors start with "error: ", as git's
# and cargo's do. A usage error is shown with metrika's prefix, in every language.
_OURS_INSTEAD = {"Error: {message}": "error: {message}"}
# Module constants translated when their module was imported (typer.rich_utils' panel titles):
# each one's msgid, so that the next run can put it in its own language.
_constant_msgids: dict[tuple[str, str], str] = {}
_msgid_of: dict[str, str] = {}  # a framework text as translated -> its msgid


# The translator of the last pass. `speaking` is the only one to change the translator, and it
# makes a pass each time; so with the same translator as the last pass's, every constant is in
# its language: those of a module imported since were translated by it as they were defined.
# (In-process tests make thousands of runs in one process, each in English.)
_last_pass: list[gettext.NullTranslations] = []


def _translate_framework_constants() -> None:
    if _last_pass == [_speaking[-1]]:
        return
    _last_pass[:] = [_speaking[-1]]
    modules = [
        (name, module)
        for name, module in list(sys.modules.items())
        if module is not None and name.partition(".")[0] in _FRAMEWORKS
    ]
    for name, module in modules:
        namespace = vars(module)
        for attribute, value in list(namespace.items()):
            if isinstance(value, str) and attribute.isupper() and value:
                msgid = _constant_msgids.setdefault((name, attribute), _msgid_of.get(value, value))
                translated = _(msgid)
                if translated != value:
                    namespace[attribute] = translated


def _install_for_frameworks() -> None:
    original_gettext, original_ngettext = gettext.gettext, gettext.ngettext

    def framework_gettext(message: str) -> str:
        message = _OURS_INSTEAD.get(message, message)
        translated = _(message)
        if translated == message:
            return original_gettext(message)
        _msgid_of[translated] = message
        return translated

    def framework_ngettext(singular: str, plural: str, n: int) -> str:
        translated = ngettext(singular, plural, n)
        return translated if translated not in (singular, plural) else original_ngettext(singular, plural, n)

    # Modules imported from now on (typer.rich_utils is imported lazily) bind these.
    gettext.gettext, gettext.ngettext = framework_gettext, framework_ngettext  # type: ignore[assignment]
    # Modules already imported bound the originals with `from gettext import gettext as _`.
    replacements = ((original_gettext, framework_gettext), (original_ngettext, framework_ngettext))
    for name, module in list(sys.modules.items()):
        if module is None or name.partition(".")[0] not in _FRAMEWORKS:
            continue
        namespace = vars(module)
        for attribute, value in list(namespace.items()):
            for original, replacement in replacements:
                if value is original:
                    namespace[attribute] = replacement


_install_for_frameworks()
