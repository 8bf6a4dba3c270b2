from .tenancy import Capability, has_capability, organizations_of


def tenancy(request):
    """The current organization, membership and switcher list for every template."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    return {
        "current_organization": getattr(request, "organization", None),
        "current_membership": membership,
        "can": {cap.value: has_capability(membership, cap) for cap in Capability},
        "my_organizations": organizations_of(user) if user is not None and user.is_authenticated else [],
    }
