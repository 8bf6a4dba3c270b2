"""Low-level membership services: the last-owner rule, owner-only changes, audit rows."""

import pytest

from organizations import services
from organizations.errors import LastOwner, RuleViolation
from organizations.models import AuditLogEntry, Membership, Role
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _snapshot(organization):
    return (
        list(Membership.objects.filter(organization=organization).values_list("pk", "role", "removed_at")),
        AuditLogEntry.objects.filter(organization=organization).count(),
    )


def test_removing_the_last_owner_is_refused_and_nothing_changes(owner, make_member, at):
    make_member(Role.ADMIN)
    before = _snapshot(owner.organization)

    with pytest.raises(LastOwner) as refused:
        services.membership_end(membership=owner, at=at, acting_user=owner.user)

    assert refused.value.code == "last_owner"
    assert "at least one owner" in refused.value.message
    assert _snapshot(owner.organization) == before
    owner.refresh_from_db()
    assert owner.removed_at is None


def test_demoting_the_last_owner_is_refused_and_nothing_changes(owner, at):
    before = _snapshot(owner.organization)

    with pytest.raises(LastOwner):
        services.membership_role_change(membership=owner, role=Role.ADMIN, at=at, acting_user=owner.user)

    assert _snapshot(owner.organization) == before
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_ensure_not_last_owner_counts_every_owner_leaving_together(owner, make_member):
    second = make_member(Role.OWNER)
    services.ensure_not_last_owner([owner])  # one of two: fine
    with pytest.raises(LastOwner):
        services.ensure_not_last_owner([owner, second])
    services.ensure_not_last_owner([make_member(Role.MEMBER)])


def test_an_owner_can_leave_when_another_owner_remains(owner, make_member, at):
    second = make_member(Role.OWNER)

    ended = services.membership_end(membership=owner, at=at, acting_user=owner.user)

    assert ended.removed_at == at
    active = Membership.objects.filter(organization=owner.organization, removed_at__isnull=True)
    assert list(active) == [second]
    entry = AuditLogEntry.objects.get(organization=owner.organization, action="member.removed")
    assert (entry.actor, entry.target, entry.at) == (owner.user, str(owner.user), at)
    assert entry.details == {"role": "owner"}


def test_removal_keeps_the_row_and_allows_rejoining(owner, make_member, at):
    member = make_member()
    services.membership_end(membership=member, at=at, acting_user=owner.user)
    with pytest.raises(RuleViolation) as refused:
        services.membership_end(membership=member, at=at, acting_user=owner.user)
    assert refused.value.code == "not_a_member"

    again = services.membership_create(
        organization=owner.organization, user=member.user, role=Role.MEMBER, at=at, on=at.date()
    )

    assert again.pk != member.pk
    assert Membership.objects.filter(organization=owner.organization, user=member.user).count() == 2


def test_membership_create_refuses_an_active_member(owner, at):
    before = _snapshot(owner.organization)
    with pytest.raises(RuleViolation) as refused:
        services.membership_create(
            organization=owner.organization, user=owner.user, role=Role.MEMBER, at=at, on=at.date()
        )
    assert refused.value.code == "already_member"
    assert _snapshot(owner.organization) == before


def test_membership_create_writes_the_row_and_an_audit_entry(organization, at):
    user = UserFactory()

    membership = services.membership_create(
        organization=organization, user=user, role=Role.FINANCE, at=at, on=at.date(), seat_interval="month"
    )

    assert (membership.role, membership.joined_at, membership.joined_on, membership.seat_interval) == (
        Role.FINANCE,
        at,
        at.date(),
        "month",
    )
    entry = AuditLogEntry.objects.get(organization=organization)
    assert (entry.action, entry.target, entry.details["role"]) == ("member.added", str(user), "finance")


def test_role_change_is_audited(owner, make_member, at):
    member = make_member()

    services.membership_role_change(membership=member, role=Role.ADMIN, at=at, acting_user=owner.user)

    member.refresh_from_db()
    assert member.role == Role.ADMIN
    entry = AuditLogEntry.objects.get(organization=owner.organization, action="member.role_changed")
    assert entry.details == {"from": "member", "to": "admin"}
    assert entry.actor == owner.user


def test_same_role_is_a_no_op(owner, make_member, at):
    member = make_member(Role.ADMIN)
    services.membership_role_change(membership=member, role=Role.ADMIN, at=at, acting_user=owner.user)
    assert not AuditLogEntry.objects.filter(organization=owner.organization).exists()


@pytest.mark.parametrize("target_role, new_role", [(Role.MEMBER, Role.OWNER), (Role.OWNER, Role.MEMBER)])
def test_an_admin_cannot_make_or_unmake_owners(owner, make_member, at, target_role, new_role):
    make_member(Role.OWNER)  # so that the last-owner rule is not what refuses
    admin = make_member(Role.ADMIN)
    target = make_member(target_role)
    before = _snapshot(owner.organization)

    with pytest.raises(RuleViolation) as refused:
        services.membership_role_change(membership=target, role=new_role, at=at, acting_user=admin.user)

    assert refused.value.code == "owner_required"
    assert _snapshot(owner.organization) == before


def test_an_admin_cannot_remove_an_owner(owner, make_member, at):
    make_member(Role.OWNER)
    admin = make_member(Role.ADMIN)
    with pytest.raises(RuleViolation) as refused:
        services.membership_end(membership=owner, at=at, acting_user=admin.user)
    assert refused.value.code == "owner_required"
    owner.refresh_from_db()
    assert owner.removed_at is None


def test_unknown_role_is_refused(owner, make_member, at):
    with pytest.raises(RuleViolation) as refused:
        services.membership_role_change(membership=make_member(), role="king", at=at, acting_user=owner.user)
    assert refused.value.code == "invalid_role"


def test_last_owner_rule_is_per_organization(owner, at):
    elsewhere = OrganizationFactory()
    services.membership_create(organization=elsewhere, user=owner.user, role=Role.OWNER, at=at, on=at.date())
    with pytest.raises(LastOwner):
        services.membership_end(membership=owner, at=at, acting_user=owner.user)
