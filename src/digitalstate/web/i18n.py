"""Pages in more than one language: the language of this request, and gettext in it.

Every text a page shows goes through gettext: in templates `{{ _("Sign in") }}` (Jinja's i18n
extension, newstyle: `_("Signed in as %(email)s", email=...)`) and `{% trans %}` blocks; in
Python `_()` from here, or `N_()` on a module constant that is translated where it is shown
(`_(STATUS_LABELS[status])`). docs/i18n.md says how to add a string or a language.

The language is a context variable that web/languages.py's middleware sets for each request,
so the one Jinja environment that every request shares never has a language installed in it:
gettext here looks the variable up on every call. A thread that run_blocking or Starlette's
thread pool starts for a request inherits it (both copy the context).

Catalogues are read from web/locale/<lang>/LC_MESSAGES/messages.po once per process and
compiled in memory (docs/adr/0018-languages.md says why no .mo file is built). An empty or
fuzzy translation falls back to the English text. This module imports no web framework, so
the pure modules (domain, presenters) can mark their words too.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import threading
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

from babel.dates import get_day_names, get_month_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
ENGLISH = "en"
WELSH = "cy"
# A pseudo-locale (the tag Windows uses for one) that shows every translated text between
# the markers: a string without them on a page is not in the catalogue (docs/i18n.md).
PSEUDO = "qps-ploc"
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
_CLDR_LOCALES = frozenset({ENGLISH, WELSH})


@dataclass(frozen=True)
class Language:
    """A language pages can be shown in.

    code: the value of ?lang= and the cookie; html: <html lang>; name: the language's own name
    (its endonym, shown in the language toggle whatever the page's language); switch: "change
    the language to this one", in this language, for screen readers.
    """

    code: str
    html: str
    name: str
    switch: str


LANGUAGES: dict[str, Language] = {
    ENGLISH: Language(ENGLISH, "en-GB", "English", "Change the language to English"),
    WELSH: Language(WELSH, "cy", "Cymraeg", "Newid yr iaith i'r Gymraeg"),
    PSEUDO: Language(PSEUDO, PSEUDO, "Pseudo", "Change the language to pseudo-text"),
}

_current: ContextVar[str] = ContextVar("digitalstate_language", default=ENGLISH)


class PseudoTranslations(stdlib_gettext.NullTranslations):
    """Every text between PSEUDO_OPEN and PSEUDO_CLOSE, placeholders kept inside."""

    def gettext(self, message: str) -> str:
        return f"{PSEUDO_OPEN}{message}{PSEUDO_CLOSE}"

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return self.gettext(message)

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        return self.ngettext(msgid1, msgid2, n)


class _Catalogues:
    """Each language's translations, read on first use and kept for the life of the process."""

    def __init__(self) -> None:
        self._loaded: dict[str, stdlib_gettext.NullTranslations] = {}
        self._lock = threading.Lock()

    def get(self, code: str) -> stdlib_gettext.NullTranslations:
        found = self._loaded.get(code)
        if found is not None:
            return found
        with self._lock:
            if code not in self._loaded:
                self._loaded[code] = load_translations(code)
            return self._loaded[code]


def load_translations(code: str) -> stdlib_gettext.NullTranslations:
    """The translations of language code: English is the source text, the rest from .po."""
    if code == PSEUDO:
        return PseudoTranslations()
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == ENGLISH or not path.is_file():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    for message in catalog:
        # A plural with any form left blank is untranslated: English rather than nothing.
        if message.id and isinstance(message.string, tuple) and not all(message.string):
            message.string = ""
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


_CATALOGUES = _Catalogues()


def current_language() -> str:
    """The language code of the page being made (English outside a request)."""
    return _current.get()


def set_language(code: str) -> Token[str]:
    """Make code the current language; returns the token reset_language takes back."""
    return _current.set(code)


def reset_language(token: Token[str]) -> None:
    """Go back to the language before set_language gave token."""
    _current.reset(token)


def gettext(message: str) -> str:
    """message in the current language (itself when there is no translation)."""
    return _CATALOGUES.get(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of singular/plural for count, in the current language."""
    return _CATALOGUES.get(_current.get()).ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """message in the current language, told apart from the same words in another context."""
    return _CATALOGUES.get(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, count: int) -> str:
    """ngettext with a context."""
    return _CATALOGUES.get(_current.get()).npgettext(context, singular, plural, count)


def gettext_in(code: str, message: str) -> str:
    """message in language code whatever the page's language: a service's answers read in the
    language of its own texts (services/display.py), a letter in its reader's. Mark message
    with N_() where it is defined, so the catalogue has it."""
    return _CATALOGUES.get(code).gettext(message)


def _cldr_locale(code: str | None) -> str:
    code = _current.get() if code is None else code
    return code if code in _CLDR_LOCALES else ENGLISH


def format_day(day: date, code: str | None = None) -> str:
    """A day as GOV.UK writes it, in language code (the current one if None): '26 November
    2026', '26 Tachwedd 2026'."""
    return f"{day.day} {month_name(day.month, code)} {day.year}"


def month_name(month: int, code: str | None = None) -> str:
    """The name of month (1-12) in language code, the current one if None (CLDR's; English for
    the pseudo-text)."""
    return str(get_month_names("wide", locale=_cldr_locale(code))[month])


def day_name(weekday: int, code: str | None = None) -> str:
    """The name of a day of the week (0 is Monday, as date.weekday() counts) in language code,
    the current one if None (CLDR's: 'Monday', 'Dydd Llun'; English for the pseudo-text)."""
    return str(get_day_names("wide", locale=_cldr_locale(code))[weekday])


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "marked, translated later"
    """Mark message for the catalogue where it is defined; translate it with _() where shown."""
    return message


_ = gettext
