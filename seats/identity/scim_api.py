"""SCIM 2.0 at /scim/v2/ (RFC 7643, RFC 7644): parse with scim2-models, call a service, serialize.

Authentication: `Authorization: Bearer <token>`, a credential of kind scim_token of one
organization (owners create and revoke tokens on the SCIM page; organizations.credentials
authenticates them). Every lookup is scoped by that organization, so an id
of another organization's User or Group answers 404 as an unknown one does.

A create or reactivation refused for want of a seat answers 403 with scimType
`seat_unavailable` (manual seat mode) or `max_seats_exceeded` (the plan's cap) and a
detail saying the person now waits and the owners were told. A User whose address is
outside the organization's verified domains is refused (400 invalidValue); one whose
address has a login outside the organization is invited instead (403 `invitation_sent`). Requests are parsed
with a lenient policy for what providers send in practice (Microsoft Entra's
capitalised ops and path filters that create their entry; unknown attributes are
dropped rather than refused).
"""

import json
import uuid
from functools import wraps

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Error,
    ETag,
    Filter,
    Group,
    InvalidFilterException,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    NotImplementedException,
    Patch,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    Sort,
    User,
)
from scim2_models import ServiceProviderConfig as ServiceProviderConfigModel
from scim2_models.path.expressions import CompareOperator, Comparison

from core import clock
from organizations import throttling
from organizations.credentials import CredentialRefused, credential_authenticate
from organizations.errors import LastOwner, RuleViolation
from organizations.models import Credential
from organizations.text import LOGIN_EMAIL_MAX_LENGTH, storable

from . import provisioning, selectors
from .scim_records import stored_attributes, user_email

SCIM_CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_RESULTS = 200
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
MODELS = {"Users": User, "Groups": Group}


def _response(payload: dict, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = JsonResponse(payload, status=status, content_type=SCIM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return _response(error.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), status=status)


def _exception_response(exc: SCIMException) -> HttpResponse:
    error = exc.to_error()
    return _response(error.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), status=error.status or 400)


def _rule_response(exc: RuleViolation) -> HttpResponse:
    if isinstance(exc, (provisioning.SeatWaitingForScim, provisioning.ScimInvitationSent)):
        return _error(403, exc.message, exc.code)
    if isinstance(exc, provisioning.RoleBeyondToken):
        return _error(403, exc.message)
    if isinstance(exc, LastOwner):
        return _error(400, exc.message, "mutability")
    if exc.code == "already_member":
        return _error(409, exc.message, "uniqueness")
    return _error(400, exc.message, "invalidValue")


def scim_endpoint(view):
    """Authenticate the bearer token, bind the organization, map refusals to SCIM errors."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        at = clock.now()
        token = None
        if scheme.lower() == "bearer" and secret.strip():
            try:
                token = credential_authenticate(kind=Credential.Kind.SCIM_TOKEN, secret=secret.strip(), at=at)
            except CredentialRefused:
                token = None  # unknown or revoked: the same 401, counted below
        if token is None:
            try:
                throttling.credential_failed(request)
            except throttling.Throttled as exc:
                response = _error(429, exc.message)
                response["Retry-After"] = str(exc.retry_after)
                return response
            response = _error(401, "Send a valid SCIM token as 'Authorization: Bearer <token>'.")
            response["WWW-Authenticate"] = 'Bearer realm="SCIM"'
            return response
        _at, on = clock.organization_now_and_today(token.organization, at=at)
        request.scim_token = token
        request.scim_organization = token.organization
        request.scim_at, request.scim_on = at, on
        try:
            return view(request, *args, **kwargs)
        except SCIMException as exc:
            return _exception_response(exc)
        except ValidationError as exc:
            errors = Error.from_validation_errors(exc)
            error = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
            return _response(
                error.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), status=error.status or 400
            )
        except RuleViolation as exc:
            return _rule_response(exc)

    return wrapped


def _json_body(request) -> dict:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        raise InvalidSyntaxException(detail="The request body is not JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="The request body must be a JSON object.")
    if _unstorable(payload):
        raise InvalidValueException(detail=UNSTORABLE_REFUSED)
    return payload


UNSTORABLE_REFUSED = (
    "Values must be text PostgreSQL can store: no NUL character (\\u0000), no lone surrogate."
)


def _unstorable(value) -> bool:
    """Does `value` (parsed JSON) hold a string PostgreSQL can't store (organizations.text)?
    Refused up front rather than failing in the database."""
    if isinstance(value, str):
        return not storable(value)
    if isinstance(value, dict):
        return any(_unstorable(key) or _unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_unstorable(item) for item in value)
    return False


def _user_lengths_check(attributes: dict) -> None:
    """Refuse what the columns can't hold (it answered 500): a userName over 255 characters,
    an address over 150 (it becomes the person's login, whose user name holds 150)."""
    if len(attributes.get("userName") or "") > 255:
        raise InvalidValueException(detail="userName is at most 255 characters.")
    if len(user_email(attributes)) > LOGIN_EMAIL_MAX_LENGTH:
        raise InvalidValueException(
            detail=f"emails: an address is at most {LOGIN_EMAIL_MAX_LENGTH} characters (it is the login)."
        )


def _location(request, endpoint: str, scim_id) -> str:
    return request.build_absolute_uri(
        reverse("scim_resource", kwargs={"endpoint": endpoint, "scim_id": scim_id})
    )


def _meta(request, resource_type: str, endpoint: str, record) -> dict:
    return {
        "resourceType": resource_type,
        "created": record.created_at.isoformat(),
        "lastModified": record.updated_at.isoformat(),
        "location": _location(request, endpoint, record.scim_id),
        "version": f'W/"{record.version}"',
    }


def _user_resource(request, record) -> User:
    groups = [
        {
            "value": str(group.scim_id),
            "$ref": _location(request, "Groups", group.scim_id),
            "display": group.display_name,
            "type": "direct",
        }
        for group in selectors.scim_groups_of(organization=record.organization, scim_id=record.scim_id)
    ]
    payload = {
        **record.attributes,
        "id": str(record.scim_id),
        "meta": _meta(request, "User", "Users", record),
    }
    if groups:
        payload["groups"] = groups
    return User.model_validate(payload, scim_policy=POLICY)


def _group_resource(request, record) -> Group:
    payload = {
        **record.attributes,
        "id": str(record.scim_id),
        "meta": _meta(request, "Group", "Groups", record),
    }
    return Group.model_validate(payload, scim_policy=POLICY)


def _resource(request, endpoint: str, record):
    return _user_resource(request, record) if endpoint == "Users" else _group_resource(request, record)


def _response_parameters(request) -> ResponseParameters | None:
    attributes = request.GET.get("attributes")
    excluded = request.GET.get("excludedAttributes")
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters.model_validate(
            {"attributes": attributes or None, "excludedAttributes": excluded or None}
        )
    except ValidationError:
        raise InvalidValueException(
            detail="attributes and excludedAttributes list attribute names."
        ) from None


def _dump(resource, context: Context, request) -> dict:
    return resource.model_dump(scim_ctx=context, response_parameters=_response_parameters(request))


def _record_or_404(request, endpoint: str, scim_id: str):
    try:
        key = uuid.UUID(scim_id)
    except ValueError:
        raise NotFoundException(detail=f"No {endpoint[:-1]} {scim_id}.") from None
    organization = request.scim_organization
    if endpoint == "Users":
        record = selectors.scim_user_get(organization=organization, scim_id=key)
    else:
        record = selectors.scim_group_get(organization=organization, scim_id=key)
    if record is None:
        raise NotFoundException(detail=f"No {endpoint[:-1]} {scim_id}.")
    return record


# Filters: the common equality filters run in the database; anything else scim2-models
# evaluates on each resource of the organization.
USER_COLUMNS = {
    "username": "user_name__iexact",
    "externalid": "external_id",
    "active": "active",
    "id": "scim_id",
}
GROUP_COLUMNS = {"displayname": "display_name__iexact", "externalid": "external_id", "id": "scim_id"}


def _filtered(request, endpoint: str, text: str):
    model = MODELS[endpoint]
    organization = request.scim_organization
    records = (
        selectors.scim_users(organization=organization)
        if endpoint == "Users"
        else selectors.scim_groups(organization=organization)
    )
    if not text:
        return list(records), None
    if _unstorable(text):
        raise InvalidFilterException(detail=UNSTORABLE_REFUSED)
    try:
        scim_filter = ScimFilter[model](text)
    except SCIMException:
        raise
    except Exception as exc:  # the grammar's own errors
        raise InvalidFilterException(detail=f"Invalid filter: {exc}") from None
    node = scim_filter.ast
    columns = USER_COLUMNS if endpoint == "Users" else GROUP_COLUMNS
    if isinstance(node, Comparison) and node.op == CompareOperator.eq:
        column = columns.get(str(node.attr_path).rsplit(":", 1)[-1].lower())
        if column is not None:
            value = node.value
            if column == "scim_id":
                try:
                    value = uuid.UUID(str(value))
                except ValueError:
                    return [], None
            return list(records.filter(**{column: value})), None
    return list(records), scim_filter


def _list(request, endpoint: str) -> HttpResponse:
    try:
        start = max(1, int(request.GET.get("startIndex", 1)))
        count = max(0, min(MAX_RESULTS, int(request.GET.get("count", DEFAULT_COUNT))))
    except ValueError:
        raise InvalidValueException(detail="startIndex and count are integers.") from None
    records, scim_filter = _filtered(request, endpoint, request.GET.get("filter", ""))
    resources = [_resource(request, endpoint, record) for record in records]
    if scim_filter is not None:
        resources = [resource for resource in resources if scim_filter.match(resource)]
    page = resources[start - 1 : start - 1 + count]
    listing = ListResponse[MODELS[endpoint]](
        total_results=len(resources), start_index=start, items_per_page=len(page), resources=page
    )
    return _response(_dump(listing, Context.SEARCH_RESPONSE, request))


@scim_endpoint
def collection(request, endpoint: str):
    if endpoint not in MODELS:
        raise NotFoundException(detail=f"No endpoint {endpoint}.")
    if request.method == "GET":
        return _list(request, endpoint)
    if request.method != "POST":
        return _error(405, f"{request.method} is not allowed on /{endpoint}.")
    organization = request.scim_organization
    resource = MODELS[endpoint].model_validate(
        _json_body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY
    )
    attributes = resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY)
    if endpoint == "Users":
        _user_lengths_check(attributes)
        record = provisioning.scim_user_create(
            organization=organization,
            attributes=attributes,
            token=request.scim_token,
            on=request.scim_on,
            at=request.scim_at,
        )
    else:
        record = provisioning.scim_group_create(
            organization=organization, attributes=attributes, token=request.scim_token, at=request.scim_at
        )
    created = _resource(request, endpoint, record)
    return _response(
        _dump(created, Context.RESOURCE_CREATION_RESPONSE, request),
        status=201,
        headers={"Location": created.meta.location},
    )


@scim_endpoint
def resource(request, endpoint: str, scim_id: str):
    if endpoint not in MODELS:
        raise NotFoundException(detail=f"No endpoint {endpoint}.")
    record = _record_or_404(request, endpoint, scim_id)
    model = MODELS[endpoint]
    at, on = request.scim_at, request.scim_on
    if request.method == "GET":
        return _response(
            _dump(_resource(request, endpoint, record), Context.RESOURCE_QUERY_RESPONSE, request)
        )
    if request.method == "DELETE":
        if endpoint == "Users":
            provisioning.scim_user_delete(record=record, token=request.scim_token, on=on, at=at)
        else:
            provisioning.scim_group_delete(group=record, token=request.scim_token, at=at)
        return HttpResponse(status=204)
    if request.method == "PUT":
        replacement = model.model_validate(
            _json_body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=POLICY
        )
        replacement.replace(_resource(request, endpoint, record))  # refuses changing immutable values
        attributes = replacement.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=POLICY)
        context = Context.RESOURCE_REPLACEMENT_RESPONSE
    elif request.method == "PATCH":
        patch = PatchOp[model].model_validate(
            _json_body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
        current = _resource(request, endpoint, record)
        patch.patch(current, scim_policy=POLICY)
        attributes = current.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=POLICY)
        context = Context.RESOURCE_PATCH_RESPONSE
    else:
        return _error(405, f"{request.method} is not allowed on /{endpoint}/<id>.")
    if endpoint == "Users":
        _user_lengths_check(attributes)
        record = provisioning.scim_user_update(
            record=record,
            attributes=stored_attributes(attributes),
            token=request.scim_token,
            on=on,
            at=at,
        )
    else:
        record = provisioning.scim_group_update(
            group=record, attributes=attributes, token=request.scim_token, at=at
        )
    return _response(_dump(_resource(request, endpoint, record), context, request))


# Discovery (RFC 7644 §4) -------------------------------------------------------------------


def _service_provider_config(request) -> ServiceProviderConfigModel:
    return ServiceProviderConfigModel(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A per-organization token an owner creates on the organization's SCIM page.",
                primary=True,
            )
        ],
        meta={"resourceType": "ServiceProviderConfig", "location": request.build_absolute_uri(request.path)},
    )


def _schemas() -> list:
    return [User.to_schema(), Group.to_schema()]


def _resource_types(request) -> list[ResourceType]:
    types = []
    for endpoint, model in MODELS.items():
        resource_type = ResourceType.from_resource(model)
        resource_type.endpoint = f"/{endpoint}"
        resource_type.meta = {
            "resourceType": "ResourceType",
            "location": request.build_absolute_uri(
                reverse("scim_resource_type", kwargs={"name": resource_type.id})
            ),
        }
        types.append(resource_type)
    return types


def _with_schema_meta(request, schema):
    schema.meta = {
        "resourceType": "Schema",
        "location": request.build_absolute_uri(reverse("scim_schema", kwargs={"schema_id": schema.id})),
    }
    return schema


def _discovery_list(request, items: list, model) -> HttpResponse:
    if request.method != "GET":
        return _error(405, "Discovery endpoints are read only.")
    if request.GET.get("filter"):
        raise InvalidFilterException(detail="Discovery endpoints take no filter (RFC 7644 §4).")
    listing = ListResponse[model](
        total_results=len(items), start_index=1, items_per_page=len(items), resources=items
    )
    return _response(listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@scim_endpoint
def service_provider_config(request):
    if request.method != "GET":
        return _error(405, "ServiceProviderConfig is read only.")
    return _response(_service_provider_config(request).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def schemas(request):
    return _discovery_list(request, [_with_schema_meta(request, s) for s in _schemas()], Schema)


@scim_endpoint
def schema(request, schema_id: str):
    found = next((s for s in _schemas() if s.id == schema_id), None)
    if found is None or request.method != "GET":
        raise NotFoundException(detail=f"No schema {schema_id}.")
    return _response(_with_schema_meta(request, found).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def resource_types(request):
    return _discovery_list(request, _resource_types(request), ResourceType)


@scim_endpoint
def resource_type(request, name: str):
    found = next((t for t in _resource_types(request) if t.id == name), None)
    if found is None or request.method != "GET":
        raise NotFoundException(detail=f"No resource type {name}.")
    return _response(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
def search(request):
    raise NotImplementedException(detail="Searching several resource types at once is not supported.")


@scim_endpoint
def not_found(request, rest: str = ""):
    raise NotFoundException(detail=f"No SCIM endpoint /{rest}.")
