"""Cancel at period end and resume (issue 23): a cancelled subscription is not renewed at its
period end; resuming before then undoes the cancellation. Audited; owners only over HTTP."""

import datetime as dt

import pytest

from billing.models import Subscription, SubscriptionInvoice
from billing.services import (
    RenewalChangeRefused,
    subscription_cancel_at_period_end,
    subscription_renew,
    subscription_resume,
)
from organizations.models import AuditLogEntry
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    OwnedOrganizationFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

JAN_1, FEB_1 = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def _renewal_invoices(subscription) -> int:
    return SubscriptionInvoice.objects.filter(subscription=subscription, reason="subscription_cycle").count()


def test_a_subscription_cancelled_at_period_end_is_not_renewed():
    subscription = SubscriptionFactory(start_on=JAN_1)
    subscription_cancel_at_period_end(organization=subscription.organization, at=_at(dt.date(2026, 1, 10)))
    subscription_renew(subscription=subscription, on=FEB_1, at=_at(FEB_1))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED and subscription.canceled_on == FEB_1
    assert _renewal_invoices(subscription) == 0
    entries = AuditLogEntry.objects.filter(organization=subscription.organization)
    actions = set(entries.values_list("action", flat=True))
    assert "subscription.cancel_at_period_end" in actions and "subscription.cancel" in actions


def test_resuming_before_the_period_end_renews_as_usual():
    subscription = SubscriptionFactory(start_on=JAN_1)
    organization = subscription.organization
    subscription_cancel_at_period_end(organization=organization, at=_at(dt.date(2026, 1, 10)))
    subscription_resume(organization=organization, at=_at(dt.date(2026, 1, 20)))
    subscription_renew(subscription=subscription, on=FEB_1, at=_at(FEB_1))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE and not subscription.cancel_at_period_end
    assert subscription.current_period_start == FEB_1
    assert _renewal_invoices(subscription) == 1
    assert AuditLogEntry.objects.filter(organization=organization, action="subscription.resume").count() == 1


def test_cancelling_twice_records_once_and_no_subscription_is_refused():
    subscription = SubscriptionFactory(start_on=JAN_1)
    for _ in range(2):
        subscription_cancel_at_period_end(organization=subscription.organization, at=_at(JAN_1))
    entries = AuditLogEntry.objects.filter(action="subscription.cancel_at_period_end")
    assert entries.count() == 1
    with pytest.raises(RenewalChangeRefused):
        subscription_cancel_at_period_end(organization=OrganizationFactory(), at=_at(JAN_1))


def test_owner_cancels_and_resumes_from_the_billing_page(client):
    organization = OwnedOrganizationFactory()
    subscription = SubscriptionFactory(organization=organization)
    owner = organization.memberships.get(role="owner").user
    client.force_login(owner)
    page = client.get(f"/o/{organization.slug}/billing/").content.decode()
    assert f'action="/o/{organization.slug}/billing/cancel/"' in page

    response = client.post(f"/o/{organization.slug}/billing/cancel/", follow=True)
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end
    page = response.content.decode()
    assert "will not renew" in page and f'action="/o/{organization.slug}/billing/resume/"' in page

    client.post(f"/o/{organization.slug}/billing/resume/")
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end


def test_a_member_cannot_cancel(client):
    subscription = SubscriptionFactory()
    member = MembershipFactory(organization=subscription.organization, role="member", user=UserFactory())
    client.force_login(member.user)
    response = client.post(f"/o/{subscription.organization.slug}/billing/cancel/")
    assert response.status_code in (403, 404)
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
