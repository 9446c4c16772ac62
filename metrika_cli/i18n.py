"""The user's language: METRIKA_LANG, else the locale variables; gettext catalogs."""

from __future__ import annotations

import gettext
import os
import sys
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "metrika"
LANGUAGES = ("en", "ru")


def detect_language(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    """`METRIKA_LANG` (en/ru) wins; then the first set of LC_ALL, LC_MESSAGES, LANG."""
    chosen = environ.get("METRIKA_LANG", "").strip().lower()
    if chosen[:2] in LANGUAGES:
        return chosen[:2]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "ru" if value.lower().startswith("ru") else "en"
    return "en"


def load(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


language = detect_language()
_translations = load(language)


def _(message: str) -> str:
    """Translate a message into the user's language."""
    return _translations.gettext(message)


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; `_()` translates it where shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)


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


def _install_for_frameworks() -> None:
    original_gettext, original_ngettext = gettext.gettext, gettext.ngettext

    def framework_gettext(message: str) -> str:
        message = _OURS_INSTEAD.get(message, message)
        translated = _translations.gettext(message)
        return translated if translated != message else original_gettext(message)

    def framework_ngettext(singular: str, plural: str, n: int) -> str:
        translated = _translations.ngettext(singular, plural, n)
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
            # Texts translated when the module was imported (typer.rich_utils' panel titles).
            if isinstance(value, str) and attribute.isupper() and value:
                translated = _translations.gettext(value)
                if translated != value:
                    namespace[attribute] = translated


_install_for_frameworks()
