"""The members page and the invitation link: who occupies the organization's seats.

Joining, leaving and reassigning take and release seats, so these pages call
`seats.services` (which charges through billing); the page's seat facts come from
`seats.members`. The clock is read here and passed down.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core import clock
from organizations import formatting as fmt
from organizations import selectors, services, throttling
from organizations.errors import RuleViolation
from organizations.forms import (
    AcceptSignupForm,
    IntervalChangeForm,
    InvitationForm,
    RoleChangeForm,
    SeatReassignForm,
)
from organizations.models import Role
from organizations.tenancy import Capability
from organizations.views_base import (
    org_view,
    redirect_to,
    refusal_message,
    throttled_response,
)
from seats import members as seat_reads
from seats import services as seat_services

# ---------------------------------------------------------------------------
# Members (the overview, /o/<slug>/, is dashboard.views.overview)


def _interval_choices(page) -> list[tuple[str, str]]:
    return [(choice.value, choice.label) for choice in page.intervals]


def _members_response(request, *, invite_form=None, reassign=None, error=None, status=200):
    """The members page; for an HTMX request only its panel (the part the forms swap)."""
    at, on = clock.organization_now_and_today(request.organization)
    page = seat_reads.members_page(
        organization=request.organization,
        membership=request.membership,
        on=on,
        at=at,
        language=get_language(),
    )
    if invite_form is None:
        invite_form = InvitationForm(
            role_choices=page.role_choices,
            interval_choices=_interval_choices(page),
            initial={"seat_interval": page.default_interval},
        )
    context = {"page": page, "invite_form": invite_form, "error": error}
    template = "seats/members.html"
    if getattr(request, "htmx", False):
        template += "#members-panel"
    return render(request, template, context, status=status)


def _after_change(request, message: str):
    messages.success(request, message)
    url = reverse("organization_members", kwargs={"slug": request.organization.slug})
    if getattr(request, "htmx", False):
        return _members_response(request)
    return redirect(url)


@org_view(Capability.MANAGE_MEMBERS)
@require_http_methods(["GET"])
def organization_members(request, slug):
    return _members_response(request)


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def member_invite(request, slug):
    form = InvitationForm(
        request.POST,
        role_choices=selectors.role_choices_for(request.membership),
        interval_choices=seat_reads.interval_choices_for(organization=request.organization),
    )
    if not form.is_valid():
        return _members_response(request, invite_form=form)
    try:
        throttling.invitation_sending(request, organization=request.organization)
    except throttling.Throttled as exc:
        return throttled_response(
            _members_response(request, invite_form=form, error=exc.message, status=429), exc
        )
    try:
        invitation = seat_services.invitation_create(
            organization=request.organization,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            seat_interval=form.cleaned_data.get("seat_interval", ""),
            invited_by=request.user,
            at=clock.now(),
        )
    except RuleViolation as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _members_response(request, invite_form=form)
        return _members_response(request, invite_form=form, error=refusal_message(request, exc))
    return _after_change(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})


def _invitation_or_404(request, invitation_id):
    invitation = selectors.invitation_get(organization=request.organization, invitation_id=invitation_id)
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def invitation_resend(request, slug, invitation_id):
    invitation = _invitation_or_404(request, invitation_id)
    try:
        throttling.invitation_sending(request, organization=request.organization)
    except throttling.Throttled as exc:
        return throttled_response(_members_response(request, error=exc.message, status=429), exc)
    try:
        services.invitation_resend(invitation=invitation, at=clock.now(), acting_user=request.user)
    except RuleViolation as exc:
        return _members_response(request, error=refusal_message(request, exc))
    return _after_change(
        request,
        _("Invitation sent again to %(email)s; the old link no longer works.") % {"email": invitation.email},
    )


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def invitation_revoke(request, slug, invitation_id):
    invitation = _invitation_or_404(request, invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, at=clock.now(), acting_user=request.user)
    except RuleViolation as exc:
        return _members_response(request, error=refusal_message(request, exc))
    return _after_change(request, _("Invitation to %(email)s withdrawn.") % {"email": invitation.email})


def _membership_or_404(request, membership_id):
    membership = selectors.membership_get(organization=request.organization, membership_id=membership_id)
    if membership is None:
        raise Http404("No such member.")
    return membership


def _after_own_change(request):
    """The viewer changed their own membership: they may no longer see this page."""
    return redirect_to(request, reverse("home"))


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def membership_role_change(request, slug, membership_id):
    membership = _membership_or_404(request, membership_id)
    form = RoleChangeForm(request.POST)
    if not form.is_valid():
        return _members_response(request, error=_("Choose one of the roles listed."))
    try:
        services.membership_role_change(
            membership=membership, role=form.cleaned_data["role"], at=clock.now(), acting_user=request.user
        )
    except RuleViolation as exc:
        return _members_response(request, error=refusal_message(request, exc))
    role = str(Role(membership.role).label)
    message = _("%(person)s is now %(role)s.") % {
        "person": membership.user.email or membership.user,
        # German writes nouns with a capital letter, even inside a sentence.
        "role": role if (get_language() or "").startswith("de") else role.lower(),
    }
    if membership.pk == request.membership.pk and membership.role not in (Role.OWNER, Role.ADMIN):
        messages.success(request, message)
        return _after_own_change(request)
    return _after_change(request, message)


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def membership_remove(request, slug, membership_id):
    membership = _membership_or_404(request, membership_id)
    at, on = clock.organization_now_and_today(request.organization)
    try:
        seat_services.members_remove(
            organization=request.organization,
            memberships=[membership],
            on=on,
            at=at,
            acting_user=request.user,
        )
    except RuleViolation as exc:
        return _members_response(request, error=refusal_message(request, exc))
    message = _("%(person)s was removed from %(name)s.") % {
        "person": membership.user.email or membership.user,
        "name": request.organization.name,
    }
    if membership.pk == request.membership.pk:
        messages.success(request, message)
        return _after_own_change(request)
    return _after_change(request, message)


@org_view(Capability.MANAGE_MEMBERS)
@require_POST
def membership_interval_change(request, slug, membership_id):
    """A paying member's next billing interval, from their next renewal (seed 004)."""
    membership = _membership_or_404(request, membership_id)
    form = IntervalChangeForm(request.POST)
    if not form.is_valid():
        return _members_response(request, error=_("Choose one of the intervals listed."))
    at, on = clock.organization_now_and_today(request.organization)
    try:
        change = seat_services.member_interval_change(
            organization=request.organization,
            membership=membership,
            interval=form.cleaned_data["interval"],
            on=on,
            at=at,
            acting_user=request.user,
        )
    except RuleViolation as exc:
        return _members_response(request, error=refusal_message(request, exc))
    who = membership.user.email or membership.user
    if change is None:
        return _after_change(request, _("%(person)s keeps their current billing interval.") % {"person": who})
    return _after_change(
        request,
        _(
            "%(person)s moves to %(interval)s billing on %(date)s, when their current period ends. "
            "Nothing is charged before."
        )
        % {
            "person": who,
            "interval": change.get_to_interval_display().lower(),
            "date": fmt.date(change.effective_on, get_language()),
        },
    )


@org_view(Capability.MANAGE_MEMBERS)
@require_http_methods(["GET", "POST"])
def seat_reassign(request, slug, membership_id):
    """Promise a member's seat to someone, who takes it over by accepting an invitation (never
    pulled in without it); the answer is the same whether or not they have an account."""
    membership = _membership_or_404(request, membership_id)
    form = SeatReassignForm(request.POST or None)
    error = throttled = None
    if request.method == "POST" and form.is_valid():
        at, on = clock.organization_now_and_today(request.organization)
        try:
            throttling.invitation_sending(request, organization=request.organization)
            invitation = seat_services.seat_reassign(
                organization=request.organization,
                membership=membership,
                email=form.cleaned_data["email"],
                on=on,
                at=at,
                acting_user=request.user,
            )
        except throttling.Throttled as exc:
            error, throttled = exc.message, exc
        except RuleViolation as exc:
            if exc.field in form.fields:
                form.add_error(exc.field, exc.message)
            else:
                error = refusal_message(request, exc)
        else:
            messages.success(
                request,
                _(
                    "%(email)s takes over the seat of %(person)s by accepting the invitation to "
                    "%(name)s; %(person)s keeps it until then."
                )
                % {"email": invitation.email, "person": membership.user, "name": request.organization.name},
            )
            return redirect_to(request, reverse("organization_members", kwargs={"slug": slug}))
    response = render(
        request, "seats/seat_reassign.html", {"membership": membership, "form": form, "error": error}
    )
    return throttled_response(response, throttled)


# ---------------------------------------------------------------------------
# Accepting an invitation (the link in the e-mail)


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    at = clock.now()
    try:
        invitation = services.invitation_get_valid(token=token, at=at)
    except RuleViolation as exc:
        return render(request, "seats/invitation_invalid.html", {"message": exc.message}, status=410)
    organization = invitation.organization
    _at, on = clock.organization_now_and_today(organization, at=at)
    context = {"invitation": invitation, "organization": organization, "error": None}

    if request.user.is_authenticated:
        same_person = (request.user.email or request.user.get_username()).strip().lower() == invitation.email
        if not same_person:
            return render(request, "seats/invitation_accept.html", {**context, "state": "other_user"})
        if selectors.membership_active_get(organization=organization, user=request.user) is not None:
            return render(request, "seats/invitation_accept.html", {**context, "state": "already_member"})
        if request.method == "POST":
            try:
                seat_services.invitation_accept(invitation=invitation, user=request.user, on=on, at=at)
            except RuleViolation as exc:
                context["error"] = _accept_refusal(exc, organization, invitation)
            else:
                messages.success(request, _("Welcome to %(name)s.") % {"name": organization.name})
                return redirect("organization_overview", slug=organization.slug)
        return render(request, "seats/invitation_accept.html", {**context, "state": "join"})

    existing = selectors.user_get_by_email(email=invitation.email)
    if existing is not None and existing.has_usable_password():
        login_url = f"{reverse('login')}?next={request.path}"
        return render(
            request,
            "seats/invitation_accept.html",
            {**context, "state": "log_in", "login_url": login_url},
        )

    # No account, or one single sign-on or SCIM made without a password: the person sets
    # one. The link came by e-mail to the invited address, which proves it is theirs.
    form = AcceptSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                if existing is None:
                    user = services.user_create(
                        email=invitation.email,
                        password=form.cleaned_data["password1"],
                        first_name=form.cleaned_data["first_name"],
                        last_name=form.cleaned_data["last_name"],
                    )
                else:
                    user = services.user_claim(
                        user=existing,
                        password=form.cleaned_data["password1"],
                        first_name=form.cleaned_data["first_name"],
                        last_name=form.cleaned_data["last_name"],
                    )
                seat_services.invitation_accept(invitation=invitation, user=user, on=on, at=at)
        except RuleViolation as exc:
            context["error"] = _accept_refusal(exc, organization, invitation)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome to %(name)s.") % {"name": organization.name})
            return redirect("organization_overview", slug=organization.slug)
    state = "sign_up" if existing is None else "claim"
    return render(request, "seats/invitation_accept.html", {**context, "state": state, "form": form})


def _accept_refusal(exc: RuleViolation, organization, invitation) -> str:
    """What the invited person reads when joining is refused; they are not a member, so no seats link."""
    inviter = (
        invitation.invited_by.email
        if invitation.invited_by
        else _("an owner of %(name)s") % {"name": organization.name}
    )
    if exc.code == "team_full" and getattr(exc, "free", False):
        return _(
            "%(name)s is on %(plan)s, which is full. "
            "Ask %(inviter)s to have an owner upgrade to a paid plan, then open this link again."
        ) % {"name": organization.name, "plan": exc.plan.name, "inviter": inviter}
    if exc.code in {"seat_unavailable", "max_seats_exceeded", "team_full"}:
        return _(
            "%(name)s has no free seat for you right now. "
            "Ask %(inviter)s to have an owner buy a seat, then open this link again."
        ) % {"name": organization.name, "inviter": inviter}
    return exc.message
