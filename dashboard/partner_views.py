"""Partner pages (seed 003): parse, authorize (org_view), call one selector or service, render.

On the partner's own pages (`/o/<partner>/companies/...`) the viewer is an owner or admin
of a partner organization. On the client's pages (`/o/<client>/subscription/...`) the
viewer is either the client's own member or the partner's person acting for it
(`tenancy.acting_membership`): the services check who may do what. The clock is read
here: `on` is the client's billing date.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.models import Plan
from billing.selectors import subscription_live
from core import clock
from dashboard.partner_forms import ClientCreateForm, HandoverForm
from organizations import formatting as fmt
from organizations import partners
from organizations.errors import RuleViolation
from organizations.formatting import document_language
from organizations.models import Agreement
from organizations.tenancy import Capability, is_acting
from organizations.views_base import org_view, refusal_message
from partners import partner_exit
from partners import services as billing_partners


def _language(request) -> str:
    return document_language(get_language() or settings.LANGUAGE_CODE)


def _partner_or_404(request):
    """The request's organization as a partner seen by its own owner or admin."""
    if not request.organization.is_partner or is_acting(request.membership):
        raise Http404("No such page.")
    return request.organization


def _client_link_or_404(request, client_id: int):
    link = partners.client_link_get(partner=_partner_or_404(request), client_id=client_id)
    if link is None:
        raise Http404("No such company.")
    return link


def _plan_choices(plans) -> list[tuple[str, str]]:
    return [(plan.code, plan.name) for plan in plans]


# ---------------------------------------------------------------------------
# The partner's Companies


@org_view(Capability.MANAGE_CLIENTS)
@require_GET
def companies(request, slug):
    partner = _partner_or_404(request)
    query = (request.GET.get("q") or "").strip()[:100]
    page = billing_partners.companies_page(
        partner=partner,
        query=query,
        page_number=request.GET.get("page") or 1,
        at=clock.now(),
        language=_language(request),
    )
    return render(request, "partners/companies.html", {"page": page})


@org_view(Capability.MANAGE_CLIENTS)
@require_http_methods(["GET", "POST"])
def company_create(request, slug):
    partner = _partner_or_404(request)
    plans = list(billing_partners.handover_plans(subscription=None))
    form = ClientCreateForm(request.POST or None, plan_choices=_plan_choices(plans))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        code = data.pop("plan")
        seats = data.pop("seats") or 0
        plan = next((p for p in plans if p.code == code), None)
        try:
            link = billing_partners.client_create(
                partner=partner, acting_user=request.user, at=clock.now(), plan=plan, seats=seats, **data
            )
        except RuleViolation as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("%(name)s is ready. Its invoices are addressed to you.") % {"name": link.organization.name},
            )
            return redirect("partner_companies", slug=partner.slug)
    return render(request, "partners/company_create.html", {"form": form, "partner": partner})


@org_view(Capability.MANAGE_CLIENTS)
@require_POST
def company_manage(request, slug, client_id):
    """'Manage': open the client's pages as the partner (noted in the client's audit log)."""
    link = _client_link_or_404(request, client_id)
    partners.acting_started(link=link, acting_user=request.user, at=clock.now())
    return redirect("organization_overview", slug=link.organization.slug)


@org_view(Capability.MANAGE_CLIENTS)
@require_http_methods(["GET", "POST"])
def company_handback(request, slug, client_id):
    """The client's owner asked the partner to pay again: review the settlement, accept or decline."""
    link = _client_link_or_404(request, client_id)
    client = link.organization
    at, on = clock.organization_now_and_today(client)
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decline":
                partners.handback_decline(link=link, acting_user=request.user, on=on, at=at)
                messages.success(request, _("%(name)s keeps paying for itself.") % {"name": client.name})
            else:
                billing_partners.agreement_handback_accept(
                    link=link,
                    on=on,
                    at=at,
                    acting_user=request.user,
                    expected_token=request.POST.get("state_token") or None,
                )
                messages.success(
                    request,
                    _("You pay for %(name)s again from %(date)s.")
                    % {"name": client.name, "date": fmt.date(on, _language(request))},
                )
        except RuleViolation as exc:
            error = refusal_message(request, exc)
        else:
            return redirect("partner_companies", slug=slug)
    preview = billing_partners.agreement_handback_preview(
        link=link, on=on, at=at, acting_user=request.user, language=_language(request)
    )
    return render(
        request, "partners/handback.html", {"link": link, "preview": preview, "error": error, "on": on}
    )


# ---------------------------------------------------------------------------
# The client's subscription status and the handover (seed 003's steps)


def _status_response(request, *, status: int = 200):
    page = billing_partners.subscription_status(
        organization=request.organization, language=_language(request)
    )
    context = {
        "page": page,
        "acting": is_acting(request.membership),
        "is_owner": partners.is_real_owner(organization=request.organization, user=request.user),
    }
    return render(request, "partners/subscription_status.html", context, status=status)


@org_view(Capability.VIEW_INVOICES)
@require_GET
def subscription_status(request, slug):
    return _status_response(request)


def _handover_link_or_404(request):
    if not is_acting(request.membership):
        raise Http404("No such page.")
    return request.membership.acting_for


@org_view(Capability.MANAGE_PLAN)
@require_http_methods(["GET", "POST"])
def handover(request, slug):
    """Edit: pick the subscription, fill the superuser, review, OK."""
    link = _handover_link_or_404(request)
    client = request.organization
    subscription = subscription_live(organization=client)
    plans = list(billing_partners.handover_plans(subscription=subscription))
    initial = {"plan": subscription.plan.code} if subscription else {}
    form = HandoverForm(request.POST or None, plan_choices=_plan_choices(plans), initial=initial)
    context = {"form": form, "link": link, "subscription": subscription, "preview": None, "error": ""}
    if request.method == "POST" and form.is_valid():
        at, on = clock.organization_now_and_today(client)
        plan = Plan.objects.get(code=form.cleaned_data["plan"])
        people = {
            "superuser_name": form.cleaned_data["superuser_name"],
            "superuser_reference": form.cleaned_data["superuser_reference"],
            "superuser_email": form.cleaned_data["superuser_email"],
        }
        if request.POST.get("action") == "confirm":
            try:
                result = billing_partners.agreement_handover(
                    link=link,
                    plan=plan,
                    on=on,
                    at=at,
                    acting_user=request.user,
                    expected_token=form.cleaned_data["state_token"] or None,
                    keep=request.POST.getlist("keep"),
                    **people,
                )
            except RuleViolation as exc:
                context["error"] = refusal_message(request, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s now pays for itself. %(email)s was e-mailed a link to log in as its owner.")
                    % {"name": client.name, "email": result.invitation.email},
                )
                return redirect("partner_subscription_status", slug=client.slug)
        preview = billing_partners.agreement_handover_preview(
            link=link,
            plan=plan,
            on=on,
            at=at,
            acting_user=request.user,
            language=_language(request),
            **people,
        )
        if not preview.allowed and preview.refusal_field in form.fields:
            form.add_error(preview.refusal_field, preview.refusal_message)
        else:
            data = request.POST.copy()
            data["state_token"] = preview.token
            context.update(
                form=HandoverForm(data, plan_choices=_plan_choices(plans)),
                preview=preview,
                plan=plan,
                on=on,
                people=people,
                leftovers=partner_exit.leftovers(
                    link=link, event=partner_exit.HANDOVER, new_owner_email=people["superuser_email"]
                ),
                kept=set(request.POST.getlist("keep")),
            )
            context["form"].is_valid()
    return render(request, "partners/handover.html", context)


@org_view(Capability.VIEW_INVOICES)
@require_POST
def handover_resend(request, slug):
    link = _handover_link_or_404(request)
    at, on = clock.organization_now_and_today(request.organization)
    try:
        invitation = billing_partners.handover_invitation_resend(
            link=link,
            on=on,
            at=at,
            acting_user=request.user,
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The log-in e-mail was sent again to %(email)s; the old link no longer works.")
            % {"email": invitation.email},
        )
    return redirect("partner_subscription_status", slug=slug)


@org_view(Capability.MANAGE_PLAN)
@require_POST
def handback_request(request, slug):
    at, on = clock.organization_now_and_today(request.organization)
    try:
        link = partners.handback_request(
            organization=request.organization,
            acting_user=request.user,
            on=on,
            at=at,
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(partner)s was asked to pay again; nothing changes until it accepts.")
            % {"partner": link.partner.name},
        )
    return redirect("partner_subscription_status", slug=slug)


@org_view(Capability.MANAGE_PLAN)
@require_http_methods(["GET", "POST"])
def partner_remove(request, slug):
    """The client's owner removes the accountant's access: GET lists what the partner leaves
    behind (each revoked unless ticked to keep), POST does it."""
    organization = request.organization
    status_url = reverse("partner_subscription_status", kwargs={"slug": slug})
    if not partners.is_real_owner(organization=organization, user=request.user):
        raise PermissionDenied(_("Only an owner of %(name)s can do this.") % {"name": organization.name})
    link = partners.link_active(organization=organization)
    if request.method == "GET":
        if link is None or link.agreement == Agreement.INTERNAL:
            # Nothing to remove, or the partner pays: it hands the account over first.
            if link is None:
                message = _("%(name)s has no accountant with access.") % {"name": organization.name}
            else:
                message = _("%(partner)s pays for %(name)s: it hands the account over first.") % {
                    "partner": link.partner.name,
                    "name": organization.name,
                }
            messages.error(request, message)
            return redirect(status_url)
        context = {
            "link": link,
            "leftovers": partner_exit.leftovers(
                link=link, event=partner_exit.ACCESS_REMOVED, confirming_user=request.user
            ),
        }
        return render(request, "partners/partner_remove.html", context)
    at, on = clock.organization_now_and_today(organization)
    try:
        link = billing_partners.partner_access_remove(
            organization=organization,
            acting_user=request.user,
            on=on,
            at=at,
            keep=request.POST.getlist("keep"),
        )
    except RuleViolation as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "%(partner)s no longer has access to %(name)s. What it made here was revoked, "
                "except what you kept; your owners were e-mailed the list."
            )
            % {"partner": link.partner.name, "name": organization.name},
        )
    return redirect(status_url)
