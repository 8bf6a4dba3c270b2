"""The owners' payment banner on every page of an organization (templates/base.html).

One selector, `payment_banner`, read lazily: HTMX partials and pages that never show the
banner cost no query, and templates never query.
"""

from django.utils.functional import SimpleLazyObject

from organizations.tenancy import Capability, has_capability
from payments.selectors import payment_banner as banner_for


def payment_banner(request) -> dict:
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    if organization is None or not has_capability(membership, Capability.MANAGE_PLAN):
        return {"payment_banner": None}
    return {"payment_banner": SimpleLazyObject(lambda: banner_for(organization=organization))}
