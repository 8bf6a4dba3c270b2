"""The dashboard in a real browser: Debian's /usr/bin/chromium driven by Playwright against
pytest-django's live server (never a downloaded browser).

Each test builds the seed 000 organization (tests/dashboard/support.py) and plays one story
the way a person would: log in per role, invite and accept, remove a member, buy seats
through the preview, change plan through the dialog, open and download an invoice, read
amounts in Danish, use the overview at phone width with the keyboard. Every page visited is
checked with axe-core (WCAG 2 A and AA rules, vendored under vendor/) and saved as a
screenshot under tests/artifacts/screenshots/ (kept out of git; see its README).

Run: DATABASE_URL=... .venv/bin/pytest tests/dashboard -m browser
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from billing.models import Subscription
from billing.selectors import seat_summary
from organizations.models import Membership
from tests.browser_support import SCREENSHOTS, TIMEOUT_MS, axe_violations

from .support import PASSWORD, build_organization

# Playwright's sync API runs an event loop in this thread; Django's guard against ORM calls
# from async code would refuse the test's own database reads and writes.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@pytest.fixture(autouse=True)
def links_point_at_the_live_server(settings, live_server):
    """E-mailed links start with SITE_URL (core.site): here, the server the browser drives."""
    settings.SITE_URL = live_server.url


@pytest.fixture
def nordlys_site(live_server):
    organization, _plans = build_organization()
    return organization


@pytest.fixture
def open_as(browser, live_server):
    """open_as(email or None, locale=..., viewport=...) -> a page logged in as that person.

    The login form itself is driven once (test_each_role_sees_exactly_its_part); other tests
    log in with a session cookie made by Django's test client, which is quicker.
    """
    contexts = []

    def open_page(email=None, *, locale="en-GB", viewport=DESKTOP):
        context = browser.new_context(base_url=live_server.url, locale=locale, viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if email:
            client = Client()
            client.force_login(get_user_model().objects.get(username=email))
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def check_page(page, name: str) -> None:
    """Screenshot, no JavaScript error, and no accessibility violation."""
    page.wait_for_load_state("networkidle")
    shot(page, name)
    assert page.js_errors == [], page.js_errors
    assert axe_violations(page) == [], name


def visible_text(page) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text())


# ---------------------------------------------------------------------------


ROLE_VIEWS = {
    # role: (what the overview shows, what it must not show, nav links, a page it may not open)
    "owner": (
        [
            "Change plan",
            "Organization settings",
            "Manage billing",
            "€1,890.00/month excl. VAT",
            "Recent invoices",
        ],
        [],
        ["Overview", "Members", "Seats", "Invoices", "Billing", "Statistics"],
        None,
    ),
    "admin": (
        ["Usage · Ecommerce Enterprise", "4 of 10 seats used"],
        ["Change plan", "Manage billing", "€1,890.00", "Recent invoices"],
        ["Overview", "Members", "Statistics"],
        "/o/nordlys/seats/",
    ),
    "finance": (
        ["Recent invoices", "€2,362.50", "€1,890.00/month excl. VAT"],
        ["Change plan", "Manage billing"],
        ["Overview", "Invoices", "Statistics"],
        "/o/nordlys/members/",
    ),
    "member": (
        ["Usage · Ecommerce Enterprise", "AI tokens this billing period", "150.0K / 200.0M"],
        ["Change plan", "Manage billing", "€1,890.00", "Recent invoices"],
        ["Overview", "Statistics"],
        "/o/nordlys/invoices/",
    ),
}


NAV_LINKS = {"Overview", "Members", "Seats", "Invoices", "Billing", "Statistics"}
# The Settings menu: the owners' settings; finance changes the tax identity (issue 19); admins
# manage the outbound webhooks (issue 24).
SETTINGS_MENUS = {
    "owner": [
        "Organization settings",
        "Single sign-on (SSO)",
        "SCIM provisioning",
        "API keys",
        "Webhooks",
        "Audit log",
    ],
    "finance": ["Organization settings"],
    "admin": ["Webhooks"],
}


def test_each_role_sees_exactly_its_part(nordlys_site, open_as):
    for role, (sees, hides, nav, forbidden) in ROLE_VIEWS.items():
        page = open_as()
        page.goto("/login/")
        page.get_by_label("E-mail").fill(f"{role}@nordlys.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/o/nordlys/")
        text = visible_text(page)
        for expected in sees:
            assert expected in text, (role, expected)
        for hidden in hides:
            assert hidden not in text, (role, hidden)
        navigation = page.get_by_role("navigation", name="Organization")
        links = [link.strip() for link in navigation.get_by_role("link").all_inner_texts()]
        assert [link for link in links if link in NAV_LINKS] == nav
        settings_menu = navigation.locator("details.nav-menu")
        assert settings_menu.count() == (1 if role in SETTINGS_MENUS else 0), role
        if role in SETTINGS_MENUS:  # the Settings menu opens on a click and lists the role's settings
            settings_menu.locator("summary").click()
            links = [t.strip() for t in settings_menu.get_by_role("link").all_inner_texts()]
            assert links == SETTINGS_MENUS[role], role
            settings_menu.locator("summary").click()
        check_page(page, f"overview-{role}")
        if forbidden:
            assert page.goto(forbidden).status == 403, (role, forbidden)


def test_invite_and_accept(nordlys_site, open_as):
    page = open_as("admin@nordlys.example")
    page.goto("/o/nordlys/members/")
    page.get_by_label("E-mail").fill("new.colleague@nordlys.example")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to new.colleague@nordlys.example").wait_for()
    shot(page, "members-invited")
    link = re.search(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body)[0]

    guest = open_as()
    guest.goto(link)
    guest.get_by_label("Password", exact=True).fill("a-long-new-password-42")
    guest.get_by_label("Password again").fill("a-long-new-password-42")
    shot(guest, "invitation-accept")
    guest.get_by_role("button", name="Join Nordlys Commerce ApS").click()
    guest.wait_for_url("**/o/nordlys/")
    assert "Welcome to Nordlys Commerce ApS." in visible_text(guest)
    assert "5 / 10" in guest.locator("#meter-seats").inner_text()
    assert Membership.objects.filter(user__email="new.colleague@nordlys.example", removed_at=None).exists()


def test_remove_a_member(nordlys_site, open_as):
    page = open_as("admin@nordlys.example")
    page.goto("/o/nordlys/members/")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    row = page.locator("tr", has_text="member@nordlys.example")
    row.get_by_role("button", name="Remove").click()
    page.get_by_text("member@nordlys.example was removed from Nordlys Commerce ApS.").wait_for()
    assert page.locator("tr", has_text="member@nordlys.example").count() == 0
    shot(page, "members-removed")
    page.goto("/o/nordlys/")
    assert "3 / 10" in page.locator("#meter-seats").inner_text()


def test_buy_seats_through_the_preview(nordlys_site, open_as):
    page = open_as("owner@nordlys.example")
    page.goto("/o/nordlys/seats/")
    check_page(page, "seats")
    page.get_by_role("link", name="Change the number of seats").click()  # the pencil (seed 002)
    seats = page.get_by_role("spinbutton", name="Seats")
    seats.wait_for()
    seats.fill("12")
    page.get_by_role("button", name="Review cost").click()
    page.get_by_text("From 10 to 12 seats (2 more).").wait_for()
    lines = page.locator(".preview-lines tbody tr")
    assert lines.count() >= 1
    assert "2" in lines.first.inner_text()
    assert "You pay" in page.locator("#preview-summary").inner_text()
    check_page(page, "seats-preview")
    page.get_by_role("button", name="Upgrade").click()
    page.get_by_text("2 seats added.").wait_for()
    assert page.locator('[data-column="additional"]').inner_text() == "2"
    assert page.locator('[data-column="total"]').inner_text() == "12"
    assert seat_summary(organization=nordlys_site).seats == 12
    shot(page, "seats-bought")


def test_change_plan_through_the_dialog(nordlys_site, open_as):
    page = open_as("owner@nordlys.example")
    page.goto("/o/nordlys/")
    page.locator("#action-change-plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    dialog.wait_for()
    assert dialog.locator("#plan-option-ecommerce-enterprise").get_by_text("Current plan").is_visible()
    assert dialog.locator("#plan-option-business-monthly").get_by_text("Recommended").is_visible()
    check_page(page, "change-plan-dialog")

    dialog.get_by_role("link", name="See all plans").click()
    dialog.get_by_role("heading", name="All plans").wait_for()
    # A plan Nordlys cannot move to says why, with the way out, and offers no review.
    free = dialog.locator("#plan-option-free-team")
    assert "Free team allows at most 3 members and you have 4" in free.inner_text()
    remove = free.get_by_role("link", name="Remove 1 member first")
    assert remove.get_attribute("href") == "/o/nordlys/members/"
    assert free.get_by_role("link", name="Review change to Free team").count() == 0
    shot(page, "change-plan-refused")

    dialog.get_by_role("link", name="Review change to Business").click()
    dialog.get_by_text("From Ecommerce Enterprise to Business").wait_for()
    assert "Unused time: Ecommerce Enterprise" in dialog.inner_text()
    check_page(page, "change-plan-preview")
    dialog.get_by_role("button", name="Confirm change to Business").click()
    page.wait_for_url("**/o/nordlys/")
    page.get_by_text("You are now on Business.").wait_for()
    assert page.locator("#plan-card .plan-name").inner_text() == "Business"
    assert Subscription.objects.get(organization=nordlys_site).plan.code == "business-monthly"
    shot(page, "overview-after-plan-change")


def test_open_and_download_an_invoice(nordlys_site, open_as):
    page = open_as("finance@nordlys.example")
    page.goto("/o/nordlys/")
    first = page.locator("#recent-invoices tbody tr").first
    number = first.locator("td").first.inner_text()
    with page.expect_popup() as popup:
        first.get_by_role("link", name=re.compile("^View")).click()
    invoice_page = popup.value
    invoice_page.wait_for_load_state()
    assert number in invoice_page.content()
    shot(invoice_page, "invoice-detail")
    with page.expect_download() as download:
        first.get_by_role("link", name=re.compile("^Download PDF")).click()
    assert download.value.suggested_filename == f"{number}.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")


def test_danish_amounts(nordlys_site, open_as):
    page = open_as("finance@nordlys.example", locale="da-DK")
    page.goto("/o/nordlys/")
    amounts = page.locator("#recent-invoices .invoice-amount").all_inner_texts()
    assert amounts and all(re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}\xa0EUR", a) for a in amounts), amounts
    assert amounts[0] == "2.362,50\xa0EUR"
    assert "1.890,00\xa0EUR" in page.locator("#plan-price").inner_text()
    assert "150,0\xa0t / 200,0\xa0mio." in page.locator("#meter-ai_tokens").inner_text()
    shot(page, "overview-da")


def test_switch_to_danish_from_the_user_menu(nordlys_site, open_as):
    """The switcher in the user menu keeps the choice (set_language's cookie) over the browser's
    English: the invoice list then shows Danish amounts."""
    page = open_as("finance@nordlys.example", locale="en-GB")
    page.goto("/o/nordlys/invoices/")
    assert "€2,362.50" in visible_text(page)
    page.locator("details.user-menu > summary").click()
    page.get_by_label("Language").select_option("da")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_url("**/o/nordlys/invoices/")
    assert page.locator("html").get_attribute("lang") == "da"
    text = visible_text(page)
    assert "2.362,50 EUR" in text and "€2,362.50" not in text  # visible_text makes \xa0 a space
    page.goto("/o/nordlys/invoices/")  # and it stays Danish
    assert page.locator("html").get_attribute("lang") == "da"
    check_page(page, "invoices-da")


PHONE_PAGES = [
    "/o/nordlys/",
    "/o/nordlys/plan/",
    "/o/nordlys/plan/business-monthly/",
    "/o/nordlys/seats/",
    "/o/nordlys/seats/preview/?seats=12",
    "/o/nordlys/billing/",
    "/o/nordlys/statistics/",
    "/o/nordlys/members/",
    "/o/nordlys/invoices/",
    "/o/nordlys/billing/payments/",
]


def page_overflow(page) -> int:
    """How far the whole page, top bar included, scrolls sideways."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_phone_width_and_keyboard(nordlys_site, open_as):
    page = open_as("owner@nordlys.example", viewport=PHONE)
    for url in PHONE_PAGES:
        page.goto(url)
        assert page_overflow(page) <= 0, f"{url} scrolls sideways by {page_overflow(page)}px at 375px"
        page.locator("details.user-menu > summary").click()  # the open user menu stays inside too
        assert page_overflow(page) <= 0, f"{url} with the user menu open scrolls sideways at 375px"
        page.locator("details.user-menu > summary").click()
    page.goto("/o/nordlys/")
    check_page(page, "overview-phone")
    # Keyboard only: focus "Change plan", Enter opens the dialog, Escape closes it.
    page.locator("#action-change-plan").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Change plan")
    dialog.wait_for()
    shot(page, "change-plan-dialog-phone")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    # A card refreshes on its own through HTMX.
    page.locator("#usage-card").get_by_role("link", name="Refresh usage").click()
    page.locator("#usage-card").wait_for()
    assert page.url.endswith("/o/nordlys/")


def test_statistics_and_billing_pages(nordlys_site, open_as):
    page = open_as("owner@nordlys.example")
    page.goto("/o/nordlys/statistics/")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart]').length === 3 && !!window.Chart")
    drawn = page.evaluate(
        "[...document.querySelectorAll('canvas[data-chart]')].map(c => !!window.Chart.getChart(c))"
    )
    assert drawn == [True, True, True]
    assert "gpt-large" in page.locator("#chart-models table").inner_text()
    check_page(page, "statistics")
    page.goto("/o/nordlys/billing/")
    assert "pay each invoice by bank transfer" in visible_text(page)
    check_page(page, "billing")
    page.get_by_role("link", name="Payments and payment methods").click()
    page.wait_for_url("**/o/nordlys/billing/payments/")
    check_page(page, "payments")


def _navigation_fit(page) -> dict:
    """Which navigation links are cut off, and whether the link row shows that it scrolls."""
    return page.evaluate(
        """() => {
            const row = document.querySelector('.topbar .nav-links');
            const box = row.getBoundingClientRect();
            const cut = [...row.querySelectorAll('a')].filter(a => {
                const r = a.getBoundingClientRect();
                return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.right > window.innerWidth;
            }).map(a => a.textContent.trim());
            return {cut, scrolls: row.scrollWidth > row.clientWidth,
                    scrollbar: row.offsetHeight - row.clientHeight,
                    pageOverflow: document.documentElement.scrollWidth - window.innerWidth};
        }"""
    )


@pytest.mark.parametrize("locale", ["en-GB", "da-DK"])
def test_the_navigation_fits_at_1280_px_for_a_partner_or_scrolls_visibly(nordlys_site, open_as, locale):
    """A partner's owner (the Companies link too) at 1280 px, in English and in Danish (longer
    words): every link, Statistics included, is in view, or the row shows its scrollbar."""
    from core import clock
    from organizations.partners import partner_enable

    partner_enable(organization=nordlys_site, at=clock.now())
    page = open_as("owner@nordlys.example", locale=locale)
    page.goto("/o/nordlys/statistics/")
    shot(page, f"navigation-1280-partner-{locale}")

    fit = _navigation_fit(page)

    assert fit["pageOverflow"] <= 0
    assert fit["cut"] == [] or fit["scrollbar"] > 0, fit
    assert page.get_by_role("link", name=re.compile("Statisti")).is_visible()
