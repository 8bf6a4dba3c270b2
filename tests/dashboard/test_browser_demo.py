"""Two of issue 23's stories in a real browser, from a fresh `seed_demo` (dashboard/demo.py):
an owner cancels at period end and resumes; the statistics page with the demo's months of usage.

The clock stands on Wednesday 20 May 2026, 10:00 UTC (tests/dashboard/conftest.py), so the
demo's Pixel Team AS (seed 004) has been on Pro team, yearly, since 1 March 2026, and Nordlys
Commerce ApS (seed 000) is on Ecommerce Enterprise, monthly, with AI usage reported every day of
May up to now. Debian's chromium through Playwright, as tests/dashboard/test_browser.py (whose
fixtures this reuses); every page checked with axe-core and saved as a screenshot.
"""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from billing.models import Subscription
from organizations import formatting as fmt
from organizations.models import AuditLogEntry, Organization
from tests.dashboard import test_browser
from tests.dashboard.test_browser import check_page, visible_text
from usage.models import ModelPrice

open_as = test_browser.open_as  # the fixture: a page logged in as someone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _post_as(email: str, url: str) -> int:
    """POST `url` as `email` (Django's test client: no CSRF token needed) and return the status."""
    client = Client()
    client.force_login(get_user_model().objects.get(username=email))
    return client.post(url).status_code


def test_an_owner_cancels_at_period_end_and_resumes(demo, open_as):
    organization = Organization.objects.get(slug="pixel-team")
    subscription = Subscription.objects.get(organization=organization)
    ends = fmt.date(subscription.current_period_end, "en")
    assert not subscription.cancel_at_period_end and subscription.status == Subscription.Status.ACTIVE

    page = open_as("owner@pixel-team.example")
    page.goto("/o/pixel-team/")
    assert f"Renews on {ends}" in page.locator("#plan-card").inner_text()
    page.locator("#plan-card").get_by_role("link", name="Manage renewal").click()
    page.wait_for_url("**/o/pixel-team/billing/#renewal")
    renewal = page.locator("#renewal")
    assert f"Your subscription renews on {ends}." in renewal.inner_text()
    check_page(page, "cancel-billing")

    renewal.get_by_role("button", name="Cancel at period end").click()
    page.get_by_text(f"Your subscription will end on {ends} and will not renew.").wait_for()
    assert f"Your subscription ends on {ends} and will not renew." in renewal.inner_text()
    assert f"Ends on {ends}" in page.locator("#plan-card").inner_text()
    assert renewal.get_by_role("button", name="Cancel at period end").count() == 0
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end and subscription.status == Subscription.Status.ACTIVE
    entry = AuditLogEntry.objects.get(organization=organization, action="subscription.cancel_at_period_end")
    assert entry.actor.username == "owner@pixel-team.example"
    assert entry.details == {"ends_on": subscription.current_period_end.isoformat()}
    check_page(page, "cancel-canceled")

    # What's next: no renewal invoice, the date it ends.
    page.get_by_role("link", name="See the upcoming invoice").click()
    page.wait_for_url("**/o/pixel-team/billing/upcoming/")
    summary = page.locator("#upcoming-summary").inner_text()
    assert f"Your subscription ends on {ends} and will not renew." in summary
    assert "Renewal invoice of" not in visible_text(page)
    # The overview says it too.
    page.goto("/o/pixel-team/")
    assert f"Ends on {ends}" in page.locator("#plan-card").inner_text()

    # Only owners change the renewal (Capability.MANAGE_PLAN): the admin and finance cannot see
    # the billing page nor cancel or resume.
    for role in ("admin", "finance"):
        other = open_as(f"{role}@pixel-team.example")
        assert other.goto("/o/pixel-team/billing/").status == 403, role
        assert _post_as(f"{role}@pixel-team.example", "/o/pixel-team/billing/resume/") == 403, role
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end

    page.goto("/o/pixel-team/billing/")
    page.locator("#renewal").get_by_role("button", name="Resume subscription").click()
    page.get_by_text(f"Your subscription will renew on {ends}.").wait_for()
    assert f"Your subscription renews on {ends}." in page.locator("#renewal").inner_text()
    assert f"Renews on {ends}" in page.locator("#plan-card").inner_text()
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert AuditLogEntry.objects.filter(organization=organization, action="subscription.resume").count() == 1
    check_page(page, "cancel-resumed")

    for role in ("admin", "finance"):
        assert _post_as(f"{role}@pixel-team.example", "/o/pixel-team/billing/cancel/") == 403, role
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end


def _chart(page, key: str) -> dict:
    """What Chart.js drew on the canvas `key`: its labels and first data set."""
    return page.evaluate(
        """key => {
            const chart = window.Chart.getChart(document.querySelector(`canvas[data-chart="${key}"]`));
            const meta = chart.getDatasetMeta(0);
            return {labels: chart.data.labels, values: chart.data.datasets[0].data.map(Number),
                    drawn: meta.data.length, width: chart.width};
        }""",
        key,
    )


def _table(page, key: str) -> list[tuple[str, str]]:
    rows = page.locator(f"#chart-{key} tbody tr")
    return [
        (rows.nth(i).locator("th").inner_text().strip(), rows.nth(i).locator("td").inner_text().strip())
        for i in range(rows.count())
    ]


def _money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_the_statistics_page_with_the_demos_usage(demo, open_as):
    page = open_as("owner@nordlys.example")
    page.goto("/o/nordlys/")
    page.locator("#usage-card").get_by_role("link", name=re.compile("statistics", re.I)).click()
    page.wait_for_url("**/o/nordlys/statistics/")
    page.wait_for_function(
        "!!window.Chart && [...document.querySelectorAll('canvas[data-chart]')]"
        ".every(c => !!window.Chart.getChart(c))"
    )

    # The meters: AI tokens, documents and agents in use; not all at 0 %.
    meters = {
        meter: page.locator(f"#meter-{meter}").inner_text()
        for meter in ("ai_tokens", "documents", "agents", "seats")
    }
    percents = {m: int(re.search(r"(\d+)\s*%", text)[1]) for m, text in meters.items()}
    assert percents["ai_tokens"] > 0 and percents["documents"] > 0 and percents["agents"] > 0, meters
    assert "3.4K / 100.0K" in meters["documents"], meters
    assert "3 / 5" in meters["agents"], meters

    # Tokens over time: a bar per day of May (those to come at 0), the same numbers as the table.
    daily = _chart(page, "daily")
    table = _table(page, "daily")
    assert daily["drawn"] == len(daily["values"]) == len(table) == 31
    assert all(value > 0 for value in daily["values"][:20]), daily["values"]  # 1 to 20 May: all used
    assert daily["values"][20:] == [0] * 11
    assert [int(value.replace(",", "")) for _day, value in table] == daily["values"]
    assert daily["labels"][0] == "1 May 2026" == table[0][0]

    # Breakdown by AI model: the demo's three models.
    models = _chart(page, "models")
    assert sorted(models["labels"]) == ["nova-large", "nova-small", "nova-vision"]
    assert all(value > 0 for value in models["values"]) and models["drawn"] == 3
    assert {label for label, _value in _table(page, "models")} == set(models["labels"])
    assert sum(models["values"]) == sum(daily["values"])  # the same tokens, split another way

    # Cost by action type: real money at the model price list, in euros.
    actions = _chart(page, "actions")
    rows = dict(_table(page, "actions"))
    assert set(actions["labels"]) == {"chat", "summarize", "extract", "classify", "translate"} == set(rows)
    assert all(text.startswith("€") for text in rows.values()), rows
    costs = {label: _money(text) for label, text in rows.items()}
    assert all(cost > 0 for cost in costs.values()), costs
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in actions["values"]] == [
        costs[label] for label in actions["labels"]
    ]
    # At most the dearest model's price for every token, at least the cheapest's.
    tokens = Decimal(sum(models["values"]))
    prices = ModelPrice.objects.filter(currency="EUR").values_list("price_per_1k_tokens_minor", flat=True)
    total = sum(costs.values())
    assert tokens * min(prices) / 100_000 - 1 <= total <= tokens * max(prices) / 100_000 + 1, total
    check_page(page, "statistics-demo")
