"""The base of every API endpoint (`ApiView`), its error bodies and its amount field.

`ApiView.bind` turns the request's credential into `self.organization` once per request,
before anything else runs: a person's session through their membership of the URL's
organization (the same resolver as the pages: 404 for a non-member, whatever the method;
403 without the view's one capability), the organization's API key into the key's own
organization (404 on another organization's URL). Querysets start from
`self.organization`: DRF applies object permissions to neither lists nor creates.

Every error answers `{"code", "message", "field"}` (plus `fields` for invalid input):
a service's refusal (`RuleViolation`) is 409, or 400 when its code says the input was
invalid (`invalid_*`); a limit reached is 429 with Retry-After.
"""

from collections.abc import Mapping

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import exceptions, fields, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from api.authentication import ApiKeyAuthentication
from billing.domain.money import format_amount
from billing.models import Interval
from organizations import throttling
from organizations.errors import RuleViolation
from organizations.models import Credential, Membership, Organization, Scope
from organizations.tenancy import Capability, has_capability
from organizations.throttling import Throttled
from organizations.views_base import bind_organization


class InputMetadata(SimpleMetadata):
    """OPTIONS: DRF's description of a view, each write method described by the view's own
    `InputSerializer`.

    DRF's SimpleMetadata asks GenericAPIView.get_serializer() for POST and PUT, which needs a
    `serializer_class` these views don't have (each names its InputSerializer and
    OutputSerializer): OPTIONS answered 500. A method is listed only when the caller may use it.
    """

    def determine_actions(self, request, view):
        input_serializer = getattr(view, "InputSerializer", None)
        if input_serializer is None:
            return {}
        return {
            method: self.get_serializer_info(input_serializer())
            for method in ("POST", "PUT", "PATCH")
            if method in view.allowed_methods and view.may(method)
        }


class ApiView(GenericAPIView):
    # The base of every endpoint under /api/v1/ (comments, not a docstring: drf-spectacular
    # would show a base class's docstring as every operation's description).
    #
    # Who may call: `authentication_classes`. The organization's API key (the SaaS's machine
    # client) and people, by their session (DRF checks CSRF on writes). `bind` is the one
    # place either becomes the organization.
    #
    # Set `capability` to the one capability a person needs, and `scope` to the one scope an
    # API key needs (organizations.models.Scope), or either to {method: ...} for a URL that
    # reads and writes (members/: GET lists, POST invites). A method without a scope is
    # refused to every key (403 `key_not_accepted`); tests/test_api_scopes.py holds every
    # operation to have one, and docs/api.md lists them.
    #
    # Nested `...Serializer` classes get schema component names from the view's name
    # (`InvoiceDetailApi.OutputSerializer` -> `InvoiceDetailOutput`), so every view can
    # call its own `InputSerializer` and `OutputSerializer` without clashes.

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    capability: Capability | Mapping[str, Capability] = Capability.VIEW
    scope: Scope | Mapping[str, Scope] | None = None
    pagination_class = None
    metadata_class = InputMetadata
    organization: Organization
    membership: Membership | None  # None for a key
    api_key: Credential | None  # None for a person
    rate_limit: throttling.RateLimit | None = None  # a key's request: its buckets after it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        prefix = cls.__name__.removesuffix("Api")
        for name, value in list(vars(cls).items()):
            if (
                isinstance(value, type)
                and issubclass(value, serializers.BaseSerializer)
                and name.endswith("Serializer")
            ):
                component = prefix + name.removesuffix("Serializer")
                setattr(cls, name, extend_schema_serializer(component_name=component)(value))

    def required_capability(self, method: str) -> Capability:
        if isinstance(self.capability, Mapping):
            method = "GET" if method == "HEAD" else method
            # Methods the view does not serve only need to see it (and then get 405).
            return self.capability.get(method, Capability.VIEW)
        return self.capability

    def required_scope(self, method: str) -> Scope | None:
        """The scope a key needs for `method`; None where nothing runs (OPTIONS, and methods
        the view does not serve: 405)."""
        method = "GET" if method == "HEAD" else method
        if method == "OPTIONS" or not hasattr(self, method.lower()):
            return None
        if isinstance(self.scope, Mapping):
            return self.scope.get(method, NO_SCOPE)
        return self.scope or NO_SCOPE

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated, throttles
        if isinstance(request.auth, Credential):
            # The key's and its organization's token buckets: one Redis round trip.
            try:
                self.rate_limit = throttling.api_request(
                    key_id=request.auth.pk, organization_id=request.auth.organization_id
                )
            except throttling.RateLimited as exc:
                self.rate_limit = exc.rate_limit
                raise
        self.bind(request, kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.rate_limit is not None:
            for name, value in self.rate_limit.headers().items():
                response[name] = value
        return response

    def bind(self, request, url_kwargs: dict) -> None:
        """Set `self.organization` from the request's credential, or refuse the request.

        An API key is bound to its own organization: a URL naming another one is 404, as
        for a non-member. A person is bound through their membership of the URL's
        organization, then needs the method's capability; on a URL naming none (usage
        ingestion) there is nothing a person could be bound to.
        """
        organization_id = url_kwargs.get("organization_id")
        if isinstance(request.auth, Credential):
            if organization_id is not None and organization_id != request.auth.organization_id:
                raise Http404("No such organization.")
            self.api_key, self.membership = request.auth, None
            self.organization = request.auth.organization
            scope = self.required_scope(request.method)
            if scope == NO_SCOPE:
                raise exceptions.PermissionDenied(
                    "This operation is not available with an API key.", code="key_not_accepted"
                )
            if scope is not None and not request.auth.has_scope(scope):
                raise ScopeMissing(scope)
            return
        if organization_id is None:
            raise exceptions.PermissionDenied("Only the organization's API key may call this.")
        self.api_key = None
        self.membership = bind_organization(
            request, capability=self.required_capability(request.method), url_kwargs=url_kwargs
        )
        self.organization = self.membership.organization

    def may(self, method: str) -> bool:
        """May the bound caller use `method` on this view?"""
        if self.api_key is not None:
            scope = self.required_scope(method)
            return scope is None or (scope != NO_SCOPE and self.api_key.has_scope(scope))
        return has_capability(self.membership, self.required_capability(method))

    def get_exception_handler(self):
        return api_exception_handler


# What a method needs that no key holds: the operation is for people only.
NO_SCOPE = "-"


class ScopeMissing(exceptions.PermissionDenied):
    """An API key without the scope the operation needs: 403 `scope_missing`, naming it."""

    default_code = "scope_missing"

    def __init__(self, scope: str):
        self.scope = scope
        super().__init__(
            f"This API key lacks the scope {scope}; an owner can create a key with it on the API keys page.",
            code="scope_missing",
        )


# Errors ---------------------------------------------------------------------------------


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for name, value in detail.items():
            inner = _first_message(value)
            return inner if name == "non_field_errors" else f"{name}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _messages_per_field(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as the documented `{field: [messages]}`: an item of a list or a field
    of a nested object is named by its path (`labels.1`, `items.0.name`); errors about the
    body as a whole (a list) under `non_field_errors`."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = ((str(index), item) for index, item in enumerate(detail) if item)
    else:
        return {prefix or "non_field_errors": [str(message) for message in detail]}
    flat = {}
    for name, value in items:
        flat.update(_messages_per_field(value, f"{prefix}.{name}" if prefix else str(name)))
    return flat


class InputRefused(RuleViolation):
    """Input that is well-formed but names nothing usable (an unknown e-mail): answered 400."""


def api_exception_handler(exc, context):
    """Every error of every endpoint as `{"code", "message", "field"[, "fields"]}`."""
    if isinstance(exc, Throttled):
        return Response(
            {"code": getattr(exc, "code", "throttled"), "message": exc.message, "field": None},
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RuleViolation):
        status = 400 if isinstance(exc, InputRefused) or exc.code.startswith("invalid") else 409
        return Response({"code": exc.code, "message": exc.message, "field": exc.field}, status=status)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Django's limits on a request's body, met while DRF parses it: the one error format
        # rather than Django's HTML 400 page.
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "message": _first_message(exc.detail),
            "field": None,
            "fields": _messages_per_field(exc.detail),
        }
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = getattr(detail, "code", None) or exc.default_code
        response.data = {"code": code, "message": str(detail), "field": None}
        if isinstance(exc, ScopeMissing):
            response.data["scope"] = exc.scope
    return response


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. preview_stale, not_found.")
    message = serializers.CharField(help_text="For people: what happened and what to do next.")
    field = serializers.CharField(allow_null=True, help_text="The input the refusal is about, if any.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=(
            "Invalid input only: messages per input field; an item of a list or a field of a nested "
            "object is named by its path (`labels.1`)."
        ),
    )
    scope = serializers.CharField(
        required=False, help_text="403 `scope_missing` only: the scope the API key lacks, e.g. billing:read."
    )


def error_responses(*codes: int, organization_in_url: bool = True) -> dict:
    """The error part of `extend_schema(responses=...)`: every operation can answer 401 (no,
    an unknown or a revoked key) and 403 (a key without the scope); a URL naming an
    organization also 404. (429 is added to every operation by api.schema.complete_contract.)"""
    always = {401, 403, 404} if organization_in_url else {401, 403}
    return {code: ErrorSerializer for code in sorted({*always, *codes})}


# Amounts --------------------------------------------------------------------------------
#
# Every amount the API answers is three things on one object, as Stripe and Lago do: the integer
# in minor units of the currency (`total_minor: 2419`, the number to compute with), the ISO 4217
# code (`currency: "EUR"`) and the display string in the currency's decimals (`total: "24.19"`).
# Declare the string once, `total = AmountField(source="total_minor")`, on a serializer with
# `AmountsMixin`: the mixin adds `total_minor` beside it, and `currency` where the serializer
# declares none (tests/test_api_amounts.py holds every amount in the schema to this).

AMOUNT_PATTERN = r"^-?\d+(\.\d+)?$"


def _currency_of(field: serializers.Field, instance) -> str:
    """The currency of `field`'s amounts on `instance`: the instance's `currency_source`
    attribute path, or else the serializer context's `currency`."""
    try:
        currency = fields.get_attribute(instance, field.currency_source.split("."))
    except (AttributeError, KeyError):
        currency = None
    return currency or field.context["currency"]


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "example": "1234.50",
        "description": "An amount in the currency's decimals (2 for EUR, 0 for JPY), never a float; "
        "the same amount as an integer is the `_minor` field beside it.",
    }
)
class AmountField(serializers.Field):
    """An amount kept in integer minor units, rendered as a string with the currency's decimals.

    `source` names the minor units (`total_minor`). The currency comes from the instance's
    `currency_source` attribute path (default `currency`), or else from the serializer
    context's `currency`. Only on an `AmountsMixin` serializer, which adds the `<name>_minor`
    integer beside it.
    """

    def __init__(self, *, currency_source: str = "currency", **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency_source = currency_source

    def bind(self, field_name, parent):
        if not isinstance(parent, AmountsMixin):
            raise TypeError(
                f"{type(parent).__name__}.{field_name}: an AmountField needs AmountsMixin on its "
                "serializer (it adds the amount in minor units and the currency beside it)."
            )
        super().bind(field_name, parent)

    def get_attribute(self, instance):
        minor = super().get_attribute(instance)
        return minor, _currency_of(self, instance)

    def to_representation(self, value):
        minor, currency = value
        return None if minor is None else format_amount(minor, currency)


def minor_units_field(amount_name: str, **kwargs) -> serializers.IntegerField:
    """The integer beside the amount `amount_name`: its minor units of `currency`."""
    return serializers.IntegerField(
        help_text=f"`{amount_name}` in minor units of `currency`: an integer (2419 for EUR 24.19, "
        "2419 for JPY 2419).",
        **kwargs,
    )


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "example": "EUR",
        "description": "ISO 4217 code of the amounts on this object.",
    }
)
class CurrencyField(serializers.Field):
    """The currency of an object's amounts, read as its AmountFields read it."""

    def __init__(self, *, currency_source: str = "currency", **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency_source = currency_source

    def get_attribute(self, instance):
        return _currency_of(self, instance)

    def to_representation(self, value):
        return value


class AmountsMixin:
    """For serializers with AmountFields: beside each amount `x` its integer `x_minor` (same
    source, minor units), and `currency` before the first amount unless the serializer declares
    its own."""

    def get_fields(self):
        declared = super().get_fields()
        amounts = {name: field for name, field in declared.items() if isinstance(field, AmountField)}
        result = {}
        for name, field in declared.items():
            if name in amounts:
                if "currency" not in declared and "currency" not in result:
                    sources = {amount.currency_source for amount in amounts.values()}
                    if len(sources) != 1:
                        raise TypeError(f"{type(self).__name__}: amounts in more than one currency.")
                    result["currency"] = CurrencyField(currency_source=sources.pop())
                result[name] = field
                minor = f"{name}_minor"
                if minor in declared:
                    raise TypeError(
                        f"{type(self).__name__}.{minor}: AmountsMixin adds it; do not declare it."
                    )
                source = field.source or name
                result[minor] = minor_units_field(
                    name, source=None if source == minor else source, allow_null=field.allow_null
                )
            else:
                result[name] = field
        return result


@extend_schema_field(
    {
        "type": "string",
        "enum": [*Interval.values, ""],
        "description": "Empty: the plan's own interval.",
        # The names generated clients give the values ("" has none of its own).
        "x-enum-varnames": [*(value.upper() for value in Interval.values), "PLAN_INTERVAL"],
    },
    component_name="SeatInterval",
)
class SeatIntervalField(serializers.ChoiceField):
    """The billing interval of a paid seat, on plans with per-member intervals (optional)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Interval.choices, required=False, default="", allow_blank=True, **kwargs)


def percent_text(rate) -> str:
    """Decimal('25.00') -> '25', Decimal('12.50') -> '12.5'."""
    return format(rate.normalize(), "f")


class DocumentPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
