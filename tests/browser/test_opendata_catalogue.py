"""The portal's catalogue pages read in Chromium, with and without JavaScript, axe clean: a
search narrowed by a facet, a dataset's page and a download, in English and in Welsh (a
portal that harvested two members, all served on loopback; not the whole demo)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser.axe_support import assert_accessible
from integration.languages_support import offer
from integration.opendata_support import harvested_portal

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


@pytest.fixture
def portal_url(
    tmp_path: Path,
    migrated_database_url: str,
    more_databases: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    offer(monkeypatch, "en", "cy")
    with harvested_portal(tmp_path, migrated_database_url, more_databases) as portal:
        yield portal.url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("js", [True, False])
def test_the_catalogue_searches_narrows_and_shows_a_dataset(
    own_page: Page, portal_url: str, js: bool
) -> None:
    page = own_page
    page.goto(portal_url + "/catalogue")
    expect(page.get_by_role("heading", name="Open data catalogue", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="2 datasets")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="leeds-housing (1)").click()

    expect(page.get_by_role("heading", name="1 dataset")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Remove leeds-housing").click()
    page.get_by_label("Search datasets").fill("birmingham")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 dataset")).to_be_visible()
    page.get_by_role("link", name="Spending over £500").click()

    expect(page.get_by_role("heading", name="Spending over £500", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Columns of Payments")).to_be_visible()
    preview = page.get_by_role("table", name="The first 5 rows of Payments")
    expect(preview.locator("tbody tr")).to_have_count(5)
    assert_accessible(page)
    download = page.request.get(portal_url + "/catalogue/birmingham-care/spending/payments.csv")
    assert download.ok and "O'Brien Ltd" in download.text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_catalogue_reads_in_welsh(page_without_javascript: Page, portal_url: str) -> None:
    page = page_without_javascript
    page.goto(portal_url + "/catalogue?lang=cy")  # the choice sticks: the ds-lang cookie
    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("heading", name="Catalog data agored", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="2 set ddata")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="leeds-housing (1)").click()

    expect(page.get_by_role("heading", name="1 set ddata")).to_be_visible()
    page.get_by_role("link", name="Tynnu leeds-housing").click()
    page.get_by_label("Chwilio setiau data").fill("birmingham")
    page.get_by_role("button", name="Chwilio").click()
    expect(page.get_by_role("heading", name="1 set ddata")).to_be_visible()
    page.get_by_role("link", name="Spending over £500").click()

    expect(page.locator("html")).to_have_attribute("lang", "cy")
    expect(page.get_by_role("table", name="Colofnau Payments")).to_be_visible()
    preview = page.get_by_role("table", name="Y 5 rhes gyntaf o Payments")
    expect(preview.locator("tbody tr")).to_have_count(5)
    expect(page.get_by_text("Cynaeafwyd ddiwethaf")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Pob set ddata").click()
    expect(page.get_by_role("heading", name="2 set ddata")).to_be_visible()
