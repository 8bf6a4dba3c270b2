"""Seed 003 in a real browser: Debian's /usr/bin/chromium driven by Playwright against
pytest-django's live server (the pattern of tests/dashboard/test_browser.py).

The accountant (Anna, owner of the partner Revisorhuset) walks the help-center article's
steps: Companies, Manage, Subscription status, Edit, pick the subscription, fill the
superuser's name, ID and e-mail, (review), OK. The clock is frozen on 17 March 2026 (the
live server's pages read it too): the client's subscription started on the 1st of that month,
so the handover falls inside its period.

Run: DATABASE_URL=... .venv/bin/pytest tests/partners -m browser
"""

import os
import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from billing.models import Subscription
from invoices.models import CreditNote, Invoice
from organizations.models import Agreement
from tests.browser_support import SCREENSHOTS, TIMEOUT_MS, axe_violations

from .support import client as make_client
from .support import monthly_plans, partner_firm

# Playwright's sync API runs an event loop in this thread; Django's guard against ORM calls
# from async code would refuse the test's own database reads and writes.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def links_point_at_the_live_server(settings, live_server):
    """E-mailed links start with SITE_URL (core.site): here, the server the browser drives."""
    settings.SITE_URL = live_server.url


@pytest.fixture
def page_as(browser, live_server):
    contexts = []

    def open_page(user):
        context = browser.new_context(
            base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_the_accountant_hands_a_company_over_as_the_article_says(page_as, live_server, frozen_clock):
    today = frozen_clock.today()
    start = today.replace(day=1)
    partner, anna = partner_firm(on=start)
    team, plus = monthly_plans()
    link = make_client(
        partner, anna, name="Bageriet Hansen", on=start, plan=team, seats=5, country="DK", language="da"
    )
    client_org = link.organization
    page = page_as(anna)

    # 1. "Virksomheder": the Companies list, and "Administrér" (Manage) on the company's row.
    page.goto(f"/o/{partner.slug}/")
    page.get_by_role("navigation", name="Organization").get_by_role("link", name="Companies").click()
    page.screenshot(path=str(SCREENSHOTS / "partners-companies.png"), full_page=True)
    assert axe_violations(page) == []
    row = page.locator("tr", has_text="Bageriet Hansen")
    assert "Internal (the partner pays)" in row.inner_text()
    row.get_by_role("button", name="Manage Bageriet Hansen").click()
    page.wait_for_url(re.compile(rf"/o/{client_org.slug}/$"))
    banner = page.locator("#acting-banner")
    assert "Acting for Bageriet Hansen as Revisorhuset" in " ".join(banner.inner_text().split())

    # 2-3. Settings -> Subscription -> "Abonnementstatus" (Subscription status).
    banner.get_by_role("link", name="Subscription status").click()
    page.wait_for_url(re.compile(r"/subscription/status/$"))
    assert page.locator("#status-agreement").inner_text() == "Internal (the partner pays)"
    assert page.locator("#status-payer").inner_text() == "Revisorhuset ApS"
    assert axe_violations(page) == []

    # 4. "Redigér" (Edit) next to the subscription, and choose the subscription.
    page.get_by_role("link", name="Edit the subscription").click()
    page.get_by_label("Plus").check()

    # 5. Superuser name, ID and e-mail.
    page.get_by_label("Superuser name").fill("Mette Hansen")
    page.get_by_label("Superuser ID").fill("MH-1")
    page.get_by_label("Superuser e-mail").fill("mette@bageriet.dk")
    page.get_by_role("button", name="Review").click()
    credit = page.locator('[data-party="partner"][data-kind="credit_note"]')
    invoice = page.locator('[data-party="client"][data-kind="invoice"]')
    assert "Credit note to Revisorhuset ApS" in credit.inner_text()
    assert "Invoice to Bageriet Hansen" in invoice.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "partners-handover-review.png"), full_page=True)
    assert axe_violations(page) == []
    assert not CreditNote.objects.exists()

    # 6. OK.
    page.get_by_role("button", name="OK").click()
    page.wait_for_url(re.compile(r"/subscription/status/$"))
    assert page.get_by_text("Bageriet Hansen now pays for itself.").is_visible()
    assert page.locator("#status-agreement").inner_text() == "External (the client pays)"
    assert page.locator("#status-plan").inner_text() == "Plus"
    assert "mette@bageriet.dk has not logged in yet" in page.locator("#superuser-invitation").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "partners-handover-done.png"), full_page=True)
    assert page.js_errors == []

    # The money and the e-mail, as the preview showed: the unused part of Team to the partner,
    # Plus to the period end to the client, one e-mail in Danish to the superuser.
    link.refresh_from_db()
    assert link.agreement == Agreement.EXTERNAL
    subscription = Subscription.objects.get(organization=client_org)
    period = subscription.current_period_end - subscription.current_period_start
    left = subscription.current_period_end - today
    note = CreditNote.objects.get()
    assert note.organization == partner and note.invoice.organization == partner
    client_invoice = Invoice.objects.get(organization=client_org)
    assert (client_invoice.period_start, client_invoice.period_end) == (
        today,
        subscription.current_period_end,
    )
    assert subscription.anchor == start and left <= period
    assert note.total_minor > 0 and client_invoice.total_minor > 0
    agreement_mails = [m for m in mail.outbox if "aftale" in m.subject]
    assert [m.to for m in agreement_mails] == [["mette@bageriet.dk"]]
    assert f"{live_server.url}/invitations/" in agreement_mails[0].body
