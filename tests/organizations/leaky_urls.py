"""The project's URLs plus one page that forgot the organization check.

The tenancy test proves on it that its walk catches such a page.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from organizations.models import Membership


def leaky_member_page(request, slug, membership_id):
    membership = get_object_or_404(Membership, pk=membership_id, organization__slug=slug)
    return HttpResponse(membership.user.email)


urlpatterns = [
    path("o/<slug:slug>/leak/<int:membership_id>/", leaky_member_page, name="leak"),
    *project_urlpatterns,
]
