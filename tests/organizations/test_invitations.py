"""Invitation services: token hashing, the e-mail after commit, refusals, resend, revoke, validity."""

import datetime as dt
import hashlib
import re

import pytest
from django.core import mail

from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Invitation, Role

pytestmark = pytest.mark.django_db


def _link_token(message) -> str:
    return re.search(r"/invitations/([^/\s]+)/", message.body).group(1)


def _actions(organization) -> list[str]:
    return list(AuditLogEntry.objects.filter(organization=organization).values_list("action", flat=True))


def _invite(owner, at, email="new.person@example.com", role=Role.MEMBER, **kwargs):
    return services.invitation_create(
        organization=owner.organization, email=email, role=role, invited_by=owner.user, at=at, **kwargs
    )


def test_only_the_token_hash_is_stored_and_the_link_is_mailed_after_commit(
    owner, at, settings, django_capture_on_commit_callbacks
):
    settings.INVITATION_VALID_DAYS = 7
    settings.SITE_URL = "https://app.example.com"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = _invite(owner, at, email=" New.Person@Example.com ")
        assert mail.outbox == []  # nothing is sent before the transaction commits

    for callback in callbacks:
        callback()
    (message,) = mail.outbox
    token = _link_token(message)
    assert token == invitation.token
    assert f"https://app.example.com/invitations/{token}/" in message.body
    assert message.to == ["new.person@example.com"]
    assert owner.organization.name in message.subject
    stored = Invitation.objects.get()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.values().get())
    assert (stored.email, stored.status, stored.expires_at) == (
        "new.person@example.com",
        Invitation.Status.PENDING,
        at + dt.timedelta(days=7),
    )
    entry = AuditLogEntry.objects.get(organization=owner.organization, action="invitation.created")
    assert (entry.actor, entry.target) == (owner.user, "new.person@example.com")
    assert token not in str(entry.details)


def test_a_second_pending_invitation_is_refused(owner, at):
    _invite(owner, at)
    with pytest.raises(RuleViolation) as refused:
        _invite(owner, at + dt.timedelta(hours=1), email="NEW.person@example.com")
    assert refused.value.code == "invitation_pending"
    assert "resend" in refused.value.message
    assert Invitation.objects.count() == 1


def test_an_expired_pending_invitation_is_replaced(owner, at):
    first = _invite(owner, at)
    second = _invite(owner, at + dt.timedelta(days=8))
    first.refresh_from_db()
    assert first.status == Invitation.Status.EXPIRED
    assert second.status == Invitation.Status.PENDING


def test_inviting_a_member_is_refused(owner, make_member, at):
    member = make_member(email="already@example.com")
    with pytest.raises(RuleViolation) as refused:
        _invite(owner, at, email="Already@Example.com")
    assert (refused.value.code, refused.value.field) == ("already_member", "email")
    assert str(member.user.email) in refused.value.message
    assert not Invitation.objects.exists()


def test_an_admin_cannot_invite_an_owner(owner, make_member, at):
    admin = make_member(Role.ADMIN)
    with pytest.raises(RuleViolation) as refused:
        _invite(admin, at, role=Role.OWNER)
    assert refused.value.code == "owner_required"
    assert not Invitation.objects.exists()


def test_invalid_email_is_refused(owner, at):
    with pytest.raises(RuleViolation) as refused:
        _invite(owner, at, email="not an email")
    assert refused.value.field == "email"


def test_resend_changes_the_link_and_extends_the_expiry(owner, at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = _invite(owner, at)
    later = at + dt.timedelta(days=10)

    with django_capture_on_commit_callbacks(execute=True):
        resent = services.invitation_resend(invitation=invitation, at=later, acting_user=owner.user)

    assert len(mail.outbox) == 2
    assert _link_token(mail.outbox[1]) == resent.token != invitation.token
    assert resent.expires_at == later + dt.timedelta(days=7)
    with pytest.raises(RuleViolation):
        services.invitation_get_valid(token=invitation.token, at=later)
    assert services.invitation_get_valid(token=resent.token, at=later).pk == invitation.pk
    assert _actions(owner.organization).count("invitation.resent") == 1


def test_revoked_invitation_is_refused_with_a_reason(owner, at):
    invitation = _invite(owner, at)
    services.invitation_revoke(invitation=invitation, at=at, acting_user=owner.user)

    with pytest.raises(RuleViolation) as refused:
        services.invitation_get_valid(token=invitation.token, at=at)

    assert refused.value.code == "invitation_invalid"
    assert "withdrawn" in refused.value.message
    assert AuditLogEntry.objects.filter(organization=owner.organization, action="invitation.revoked").exists()
    with pytest.raises(RuleViolation) as again:
        services.invitation_revoke(invitation=invitation, at=at, acting_user=owner.user)
    assert again.value.code == "invitation_closed"
    with pytest.raises(RuleViolation):
        services.invitation_resend(invitation=invitation, at=at, acting_user=owner.user)


def test_expired_invitation_is_refused_with_a_reason(owner, at):
    invitation = _invite(owner, at)
    services.invitation_get_valid(token=invitation.token, at=invitation.expires_at - dt.timedelta(seconds=1))

    with pytest.raises(RuleViolation) as refused:
        services.invitation_get_valid(token=invitation.token, at=invitation.expires_at)

    assert refused.value.code == "invitation_invalid"
    assert "expired" in refused.value.message
    assert owner.user.email in refused.value.message  # who to ask


def test_used_and_unknown_tokens_are_refused(owner, at):
    invitation = _invite(owner, at)
    services.invitation_mark_accepted(invitation=invitation, at=at)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.accepted_at) == (Invitation.Status.ACCEPTED, at)

    with pytest.raises(RuleViolation) as used:
        services.invitation_get_valid(token=invitation.token, at=at)
    assert "already been used" in used.value.message
    with pytest.raises(RuleViolation) as unknown:
        services.invitation_get_valid(token="no-such-token", at=at)
    assert unknown.value.code == "invitation_invalid"
    with pytest.raises(RuleViolation):
        services.invitation_mark_accepted(invitation=invitation, at=at)
    assert _actions(owner.organization).count("invitation.accepted") == 1


def test_nothing_is_mailed_when_the_transaction_rolls_back(owner, at, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            _invite(owner, at)
            raise RuntimeError("the caller fails after inviting")
    assert mail.outbox == []
    assert not Invitation.objects.exists()
