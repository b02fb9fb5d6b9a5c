"""govukPagination's parameters for a paged list: the pages near this one, previous and next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from digitalstate.web.i18n import N_, _

# The pagination links as govuk-frontend writes them ("page" for screen readers).
PREVIOUS = N_('Previous<span class="govuk-visually-hidden"> page</span>')
NEXT = N_('Next<span class="govuk-visually-hidden"> page</span>')


def pagination(page: int, last: int, href: Callable[[int], str]) -> dict[str, Any] | None:
    """govukPagination's parameters for page of last (href(n): page n's address), or None for
    a single page."""
    if last == 1:
        return None
    near = sorted({1, page - 1, page, page + 1, last})
    items: list[dict[str, Any]] = []
    for number in (n for n in near if 1 <= n <= last):
        if items and number - items[-1].get("number", number) > 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": href(number), "current": number == page})
    view: dict[str, Any] = {"items": items, "landmarkLabel": _("Pagination")}
    if page > 1:
        view["previous"] = {"href": href(page - 1), "html": _(PREVIOUS)}
    if page < last:
        view["next"] = {"href": href(page + 1), "html": _(NEXT)}
    return view
