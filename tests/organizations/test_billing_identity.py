"""Issue 22, item 1: a billing identity you can trust. The country comes from the ISO 3166
list, the address is structured, a VAT ID is checked for its country (python-stdnum: format,
check digits, and a prefix that matches the country, Greece's EL), its VIES check is kept
with its date, and a refused change saves nothing, by the settings page or the API."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from core import vies
from organizations import services
from organizations.errors import RuleViolation
from organizations.models import AuditLogEntry, Organization, Role

pytestmark = pytest.mark.django_db

VALID = [
    ("DK", "DK 13 58 56 28", "DK13585628"),
    ("DK", "13585628", "DK13585628"),  # the prefix is added
    ("DE", "de136695976", "DE136695976"),
    ("SE", "SE 1234567897 01", "SE123456789701"),
    ("FR", "FR 40 303 265 045", "FR40303265045"),
    ("GR", "EL094259216", "EL094259216"),  # Greece: ISO code GR, VAT prefix EL
    ("NO", "NO 995 525 828 MVA", "NO995525828MVA"),
    ("NO", "995525828", "NO995525828MVA"),
    ("GB", "GB 980 7806 84", "GB980780684"),
    ("US", "04-2103594", "04-2103594"),  # an EIN
]
INVALID = [
    ("DK", "DK13585629", "check digits"),
    ("DK", "X", "length and format"),
    ("DE", "DE000", "length and format"),
    ("DE", "garbage", "starts with DE"),
    ("SE", "SE123456789001", "check digits"),
    ("FR", "FR41303265045", "check digits"),
    ("GR", "EL094259217", "check digits"),
    ("GR", "GR094259216", "starts with EL"),  # Greece's VAT IDs never start with GR
    ("NO", "NO995525829MVA", "check digits"),
    ("GB", "GB980780685", "check digits"),
    ("US", "12", "length and format"),
    ("FR", "DE136695976", "starts with FR"),  # a German VAT ID for a French company
    ("DE", "FR40303265045", "starts with DE"),
    ("DK", "DK1358\n5628", "one line"),
    ("DK", "DK1358\x005628", "one line"),
    ("DK", "DK" + "1" * 40, "at most 32"),
]


def _settings_url(organization):
    return reverse("organization_settings", kwargs={"slug": organization.slug})


def _api_url(organization):
    return f"/api/v1/organizations/{organization.pk}/billing-details/"


def _identity(organization) -> dict:
    return Organization.objects.values(
        *services.BILLING_DETAIL_FIELDS, "vat_id_check", "vat_id_checked_on"
    ).get(pk=organization.pk)


def _form(organization, **changes) -> dict:
    data = {name: getattr(organization, name) for name in services.BILLING_DETAIL_FIELDS}
    return {**data, **changes}


@pytest.fixture
def api(owner):
    client = APIClient()
    client.force_login(owner.user)
    return client


# The service -------------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_a_valid_tax_number_is_stored_compact_with_its_prefix_and_its_check(
    owner, at, country, typed, stored
):
    organization = services.organization_update_billing_details(
        organization=owner.organization, at=at, acting_user=owner.user, country=country.lower(), vat_id=typed
    )

    organization.refresh_from_db()
    assert (organization.country, organization.vat_id) == (country, stored)
    # Offline (the default VIES client): format valid, not verified, on the day of the change.
    assert (organization.vat_id_check, organization.vat_id_checked_on) == (vies.FORMAT_VALID, at.date())


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_an_invalid_tax_number_is_refused_and_nothing_changes(owner, at, country, typed, reason):
    organization = owner.organization
    before = _identity(organization)

    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(
            organization=organization, at=at, acting_user=owner.user, country=country, vat_id=typed
        )

    assert (refused.value.code, refused.value.field) == ("invalid_vat_id", "vat_id")
    assert reason in refused.value.message
    assert _identity(organization) == before
    assert not AuditLogEntry.objects.filter(action="organization.billing_details_updated").exists()


def test_changing_the_country_checks_the_vat_id_again(owner, at):
    organization = services.organization_update_billing_details(
        organization=owner.organization, at=at, acting_user=owner.user, country="DK", vat_id="DK13585628"
    )
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(organization=organization, at=at, country="DE")
    assert refused.value.field == "vat_id"
    assert _identity(organization)["country"] == "DK"


@pytest.mark.parametrize("country", ["XX", "EU", "EL", "D", "DNK", "1A"])
def test_a_country_not_in_iso_3166_is_refused(owner, at, country):
    before = _identity(owner.organization)
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(organization=owner.organization, at=at, country=country)
    assert (refused.value.code, refused.value.field) == ("invalid_country", "country")
    assert _identity(owner.organization) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", "A" * 5000),
        ("legal_name", "Acme\r\nBcc: x@example.com"),
        ("address_line1", "V" * 101),
        ("address_line1", "Vej 1\nTrap 2"),
        ("address_line2", "in\tdented"),
        ("postcode", "1" * 17),
        ("city", "C" * 61),
        ("region", "Zo\x0bne"),
    ],
)
def test_long_or_control_character_input_is_refused(owner, at, field, value):
    before = _identity(owner.organization)
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(organization=owner.organization, at=at, **{field: value})
    assert refused.value.field == field
    assert _identity(owner.organization) == before


def test_the_address_prints_in_the_countrys_order(owner, at):
    organization = services.organization_update_billing_details(
        organization=owner.organization,
        at=at,
        address_line1="Nørregade 1",
        address_line2="2. sal",
        postcode="1165",
        city="København K",
        country="DK",
    )
    assert organization.address == "Nørregade 1\n2. sal\n1165 København K"
    organization = services.organization_update_billing_details(
        organization=organization,
        at=at,
        address_line1="1 Main St",
        address_line2="",
        postcode="02110",
        city="Boston",
        region="MA",
        country="US",
    )
    assert organization.address == "1 Main St\nBoston, MA 02110"


class AnsweringVies:
    def __init__(self, status):
        self.status, self.asked = status, []

    def check(self, vat_id, *, on):
        self.asked.append(vat_id)
        return vies.ViesResult(self.status, on)


@pytest.fixture
def vies_answers():
    installed = []

    def install(status):
        client = AnsweringVies(status)
        installed.append(vies.use_vies_client(client))
        return client

    yield install
    for previous in reversed(installed):
        vies.use_vies_client(previous)


def test_vies_is_asked_for_eu_vat_ids_only_and_its_answer_kept(owner, at, vies_answers):
    client = vies_answers(vies.VERIFIED)
    organization = services.organization_update_billing_details(
        organization=owner.organization, at=at, country="DE", vat_id="DE136695976"
    )
    assert organization.vat_id_check == vies.VERIFIED
    services.organization_update_billing_details(
        organization=organization, at=at, country="NO", vat_id="995525828"
    )
    assert client.asked == ["DE136695976"]


def test_a_vat_id_vies_does_not_know_is_refused(owner, at, vies_answers):
    vies_answers(vies.NOT_FOUND)
    before = _identity(owner.organization)
    with pytest.raises(RuleViolation) as refused:
        services.organization_update_billing_details(
            organization=owner.organization, at=at, country="DE", vat_id="DE136695976"
        )
    assert refused.value.code == "vat_id_unknown"
    assert _identity(owner.organization) == before


# The settings page ---------------------------------------------------------------------------


def test_the_country_is_a_select_of_iso_countries_in_the_readers_language(client, owner):
    client.force_login(owner.user)
    with translation.override("de"):
        page = client.get(_settings_url(owner.organization), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<select name="country"' in page
    assert '<option value="DK" selected>Dänemark</option>' in page
    assert '<option value="GR">Griechenland</option>' in page


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_the_settings_page_saves_a_valid_identity(client, owner, country, typed, stored):
    client.force_login(owner.user)
    organization = owner.organization
    data = _form(
        organization, country=country, vat_id=typed, address_line1="Vej 1", postcode="1000", city="By"
    )

    response = client.post(_settings_url(organization), data)

    assert response.status_code == 302
    saved = _identity(organization)
    assert (saved["vat_id"], saved["address_line1"], saved["city"]) == (stored, "Vej 1", "By")
    page = client.get(_settings_url(organization)).content.decode()
    assert "format valid, not verified with VIES" in page


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_the_settings_page_shows_the_error_at_the_vat_id_and_saves_nothing(
    client, owner, country, typed, reason
):
    client.force_login(owner.user)
    organization = owner.organization
    before = _identity(organization)

    response = client.post(_settings_url(organization), _form(organization, country=country, vat_id=typed))

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["vat_id"]
    assert _identity(organization) == before


def test_the_errors_are_translated(client, owner):
    client.force_login(owner.user)
    organization = owner.organization
    with translation.override("da"):
        response = client.post(
            _settings_url(organization),
            _form(organization, country="FR", vat_id="DE136695976"),
            HTTP_ACCEPT_LANGUAGE="da",
        )
    assert response.context["form"].errors["vat_id"] == [
        "Et momsnummer fra Frankrig begynder med FR. Tjek landet og momsnummeret."
    ]


def test_a_5000_character_company_name_is_refused_by_the_page(client, owner):
    client.force_login(owner.user)
    before = _identity(owner.organization)
    response = client.post(
        _settings_url(owner.organization), _form(owner.organization, legal_name="A" * 5000)
    )
    assert response.status_code == 200
    assert "legal_name" in response.context["form"].errors
    assert _identity(owner.organization) == before


# The API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "typed", "stored"), VALID)
def test_the_api_saves_a_valid_identity(api, owner, at, country, typed, stored):
    response = api.patch(_api_url(owner.organization), {"country": country, "vat_id": typed}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["country"], body["vat_id"], body["vat_id_check"]) == (country, stored, "format_valid")
    assert dt.date.fromisoformat(body["vat_id_checked_on"])


@pytest.mark.parametrize(("country", "typed", "reason"), INVALID)
def test_the_api_refuses_an_invalid_vat_id_with_400_and_saves_nothing(api, owner, country, typed, reason):
    before = _identity(owner.organization)

    response = api.patch(_api_url(owner.organization), {"country": country, "vat_id": typed}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["field"] in ("vat_id", None)  # None: refused by the input's length
    assert _identity(owner.organization) == before


@pytest.mark.parametrize(
    "body",
    [
        {"country": "XX"},
        {"legal_name": "A" * 5000},
        {"address_line1": "Vej 1\r\nBcc: x@example.com"},
        {"city": "C" * 61},
    ],
)
def test_the_api_refuses_bad_countries_long_and_control_character_input(api, owner, body):
    before = _identity(owner.organization)
    response = api.patch(_api_url(owner.organization), body, format="json")
    assert response.status_code == 400, response.content
    assert _identity(owner.organization) == before


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_only_owners_and_finance_use_the_api(make_member, owner, role):
    client = APIClient()
    client.force_login(make_member(role).user)
    before = _identity(owner.organization)
    response = client.patch(_api_url(owner.organization), {"vat_id": "DK13585628"}, format="json")
    assert response.status_code == 403
    assert _identity(owner.organization) == before
