"""The user's language: METRIKA_LANG, else the locale variables; gettext catalogs."""

from __future__ import annotations

import gettext
import os
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
