"""Shared HTML templates and static assets: the GOV.UK Design System without GOV.UK's brand.

Templates come from web/templates/ (and any feature directories passed in), then from
govuk-frontend-jinja under the prefix "govuk_frontend_jinja/". The CSS and JavaScript under
static/govuk/ are built by scripts/build_assets.py; until then pages render unstyled.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import CodeType

import jinja2
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from digitalstate.web import i18n
from digitalstate.web.hardening import csp_context
from digitalstate.web.languages import language_toggle
from digitalstate.web.session import csrf_token

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PATH = "/static"


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates kept in memory and shared by every environment of the process.

    Each app makes its own environments, so without this each app compiled every template it
    rendered again. The code objects themselves are kept (they are immutable), not their
    marshalled bytes: a template loaded again is not unmarshalled again (a quarter of a
    template's load). A template whose source's checksum differs is compiled again.
    """

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, CodeType]] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with self._lock:
            kept = self._code.get(bucket.key)
        if kept is not None and kept[0] == bucket.checksum:
            bucket.code = kept[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.code is None:
            return
        with self._lock:
            self._code[bucket.key] = (bucket.checksum, bucket.code)


_COMPILED = _CompiledTemplates()


def make_environment(template_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """A Jinja environment with autoescape, our templates and the govuk-frontend macros."""
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([TEMPLATES_DIR, *template_dirs]),
            jinja2.PrefixLoader(
                {"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}
            ),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        bytecode_cache=_COMPILED,
        extensions=["jinja2.ext.i18n"],
        # The templates are package data, changed only by a new release (a restart): not
        # checking each file's time on every load halves get_template (23 -> 11.5 us), which
        # a page calls once per template it extends or imports (`bench services` profile).
        auto_reload=False,
    )
    # gettext and friends look the request's language up on each call (web/i18n.py), so the
    # environment every request shares never has one language installed. Newstyle: _() escapes
    # and formats, _("Hello %(name)s", name=...); a literal percent sign is written %%.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext, npgettext=i18n.npgettext
    )
    env.policies["ext.i18n.trimmed"] = True
    env.globals["current_language"] = i18n.current_language
    env.globals["html_lang"] = html_lang
    env.globals["language_toggle"] = language_toggle
    env.globals["static_path"] = STATIC_PATH
    # Every POST form: <input type="hidden" name="csrf_token" value="{{ csrf_token(request) }}">
    env.globals["csrf_token"] = csrf_token
    env.filters["format_date"] = format_date
    env.filters["format_datetime"] = format_datetime
    env.filters["iso_datetime"] = iso_datetime
    return env


def make_templates(template_dirs: Sequence[Path] = ()) -> Jinja2Templates:
    """Starlette's template renderer over make_environment(), with the page's CSP nonce."""
    return Jinja2Templates(env=make_environment(template_dirs), context_processors=[csp_context])


def html_lang() -> str:
    """The lang attribute of the page's <html>: 'en-GB' or 'cy'."""
    return i18n.LANGUAGES[i18n.current_language()].html


def mount_static(app: Starlette) -> None:
    """Serve web/static at /static; the app starts even when the assets are not built."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


def format_date(value: datetime) -> str:
    """A day as GOV.UK writes it, in UTC and the page's language: '26 November 2026'."""
    moment = in_utc(value)
    return i18n.format_day(moment.date())


def format_datetime(value: datetime) -> str:
    """A moment for people to read, in UTC: '26 November 2025 at 09:05 UTC'."""
    moment = in_utc(value)
    return i18n.gettext("%(date)s at %(time)s UTC") % {
        "date": format_date(moment),
        "time": f"{moment:%H:%M}",
    }


def iso_datetime(value: datetime) -> str:
    """A moment for machines (the datetime attribute of <time>), in UTC."""
    return in_utc(value).isoformat()


def in_utc(value: datetime) -> datetime:
    # Pages show UTC whatever the offset; the database hands back aware UTC (UtcDateTime), and a
    # naive datetime names no moment, so it is refused rather than guessed.
    if value.tzinfo is None:
        raise ValueError(f"a moment to show must carry its UTC offset: {value.isoformat()}")
    return value.astimezone(UTC)
