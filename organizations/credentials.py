"""Bearer credentials of an organization: API keys and SCIM tokens, one model (`Credential`).

An owner (or a partner's person acting as one: `partners.credential_provenance`) makes a
credential of a kind; its secret is shown once and only its SHA-256 is kept. Every request
that carries one is authenticated here, with its organization, in one query; a revoked one
is refused at once. An API key holds the scopes chosen when it was made (`Scope`; which
operation needs which: `api.scopes`); `seats.identity.provisioning` decides the roles a SCIM
token's groups may give. Refused credentials are counted per address by the caller
(`throttling.credential_failed`), which answers in its own protocol.

Audit actions keep their kind's name: `api_key.created`, `scim_token.revoked`, ...
"""

import datetime as dt
import hashlib
import secrets

from django.db import connections, router, transaction
from django.utils.translation import gettext as _

from core import sql

from .audit import audit_record
from .errors import RuleViolation
from .models import Credential, Organization, Scope
from .partners import credential_made_by, credential_provenance
from .tenancy import KeyActor
from .text import storable

Kind = Credential.Kind

PREFIXES = {Kind.API_KEY: "sbk_", Kind.SCIM_TOKEN: "scim_"}
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute


class CredentialRefused(RuleViolation):
    """A bearer secret that authenticates nothing: `code` is "unknown" or "revoked". The caller
    answers in its own words and protocol."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def credential_name(name: str | None, *, kind: str) -> str:
    """The name given to a credential, trimmed; refused (field "name") when empty, over 100
    characters, or holding text PostgreSQL can't store."""
    name = (name or "").strip()
    if not name:
        if kind == Kind.SCIM_TOKEN:
            message = _("Name the token after the provider that uses it.")
        else:
            message = _("Give the key a name, e.g. where it is used.")
        raise RuleViolation(message, code="name_required", field="name")
    if len(name) > 100:
        raise RuleViolation(_("The name is at most 100 characters."), code="name_too_long", field="name")
    if not storable(name):
        raise RuleViolation(_("The name can't hold the NUL character."), code="name_invalid", field="name")
    return name


def credential_scopes(scopes, *, kind: str) -> str:
    """The scopes chosen for a credential, as stored (known ones, in `Scope`'s order, space
    separated); refused (field "scopes") for an API key without any or with an unknown one.
    A SCIM token has none: SCIM is its scope."""
    chosen = set(scopes or ())
    if kind != Kind.API_KEY:
        if chosen:
            raise RuleViolation(_("A SCIM token has no scopes."), code="invalid_scopes", field="scopes")
        return ""
    unknown = chosen - set(Scope.values)
    if unknown:
        raise RuleViolation(
            _("Unknown scope: %(scopes)s.") % {"scopes": ", ".join(sorted(unknown))},
            code="invalid_scopes",
            field="scopes",
        )
    if not chosen:
        raise RuleViolation(
            _("Choose at least one scope: what the key may do."), code="scopes_required", field="scopes"
        )
    return " ".join(scope for scope in Scope.values if scope in chosen)


# Writes ------------------------------------------------------------------------------------


@transaction.atomic
def credential_create(
    *,
    organization: Organization,
    kind: str,
    name: str,
    at: dt.datetime,
    acting_user=None,
    scopes=(),
) -> tuple[Credential, str]:
    """A new credential of `kind` (an API key with its `scopes`, at least one); returns (row,
    the whole secret). The secret is shown once: only its SHA-256 is stored."""
    name = credential_name(name, kind=kind)
    chosen_scopes = credential_scopes(scopes, kind=kind)
    if isinstance(acting_user, KeyActor):
        # A key makes keys only with scopes it holds itself: never a stronger one.
        beyond = [scope for scope in chosen_scopes.split() if not acting_user.api_key.has_scope(scope)]
        if beyond:
            raise RuleViolation(
                _("An API key makes keys only with scopes it holds itself; it lacks %(scopes)s.")
                % {"scopes": ", ".join(beyond)},
                code="scope_not_grantable",
                field="scopes",
            )
    prefix = PREFIXES[kind] + secrets.token_hex(6)
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    provenance = credential_provenance(organization=organization, acting_user=acting_user)
    credential = Credential.objects.create(
        organization=organization,
        kind=kind,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash(secret),
        scopes=chosen_scopes,
        created_at=at,
        **provenance.fields(),
    )
    audit_record(
        organization=organization,
        actor=acting_user,
        action=f"{kind}.created",
        at=at,
        target=prefix,
        details={
            "name": name,
            **({"scopes": chosen_scopes.split()} if chosen_scopes else {}),
            **provenance.details(),
        },
    )
    return credential, secret


@transaction.atomic
def credential_revoke(
    *,
    organization: Organization,
    kind: str,
    credential_id: int,
    at: dt.datetime,
    acting_user=None,
    reason: str = "",
) -> Credential:
    """Revoke a credential at once (its requests are refused from now on); `reason` says why
    in the audit row (e.g. "partner_removed"). Revoking a revoked one changes nothing; one of
    another organization or kind is not found."""
    credential = (
        Credential.objects.select_for_update(of=("self",))
        .select_related("created_by", "created_as_partner")
        .filter(organization=organization, kind=kind, pk=credential_id)
        .first()
    )
    if credential is None:
        raise RuleViolation(_("No such token."), code="not_found")
    if credential.revoked_at is None:
        credential.revoked_at = at
        credential.save(update_fields=["revoked_at"])
        audit_record(
            organization=organization,
            actor=acting_user,
            action=f"{kind}.revoked",
            at=at,
            target=credential.prefix,
            details={
                "name": credential.name,
                **credential_made_by(credential),
                **({"reason": reason} if reason else {}),
            },
        )
    return credential


def credential_keep(*, credential: Credential, at: dt.datetime, acting_user) -> None:
    """The client's owner keeps a leaving partner's credential and vouches for it from now on
    (a SCIM token grants roles as they may). Audited by the caller, with the partner's exit."""
    Credential.objects.filter(pk=credential.pk).update(kept_by=acting_user, kept_at=at)
    credential.kept_by, credential.kept_at = acting_user, at


def credential_touch(*, credential: Credential, at: dt.datetime) -> None:
    """Record use at most once a minute (no row write on every request of the hot paths)."""
    if credential.last_used_at is not None and at - credential.last_used_at < LAST_USED_RESOLUTION:
        return
    Credential.objects.filter(pk=credential.pk).update(last_used_at=at)
    credential.last_used_at = at


# Reads -------------------------------------------------------------------------------------


def credential_list(*, organization: Organization, kind: str):
    """The organization's credentials of `kind`, newest first, revoked ones included."""
    return Credential.objects.filter(organization=organization, kind=kind).select_related(
        "created_by", "created_as_partner"
    )


# Every API request and SCIM request looks its credential up: plain SQL, the ORM's
# select_related took several times PostgreSQL's answer to build (docs/performance.md).
_CREDENTIAL_SQL = (
    f"SELECT {sql.select_list(Credential, 'c')}, {sql.select_list(Organization, 'o')}"
    f" FROM {Credential._meta.db_table} c"
    f" JOIN {Organization._meta.db_table} o ON o.id = c.organization_id"
    " WHERE c.secret_hash = %s AND c.kind = %s"
)


def credential_by_hash(*, kind: str, secret_hash: str) -> Credential | None:
    """The credential of `kind` whose secret hashes to `secret_hash`, revoked or not, its
    organization loaded with it in the same query."""
    alias = router.db_for_read(Credential)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        # The demo's SQLite returns datetimes as naive text, which the ORM converts.
        return (
            Credential.objects.using(alias)
            .select_related("organization")
            .filter(secret_hash=secret_hash, kind=kind)
            .first()
        )
    with connection.cursor() as cursor:
        cursor.execute(_CREDENTIAL_SQL, [secret_hash, kind])
        row = cursor.fetchone()
    if row is None:
        return None
    split = sql.width(Credential)
    credential = sql.instance(Credential, alias, row[:split])
    credential.organization = sql.instance(Organization, alias, row[split:])
    return credential


def credential_authenticate(*, kind: str, secret: str, at: dt.datetime) -> Credential:
    """The usable credential of `kind` whose secret is `secret`, with its organization; its use
    recorded. Raises CredentialRefused ("unknown", "revoked").

    Looked up by the secret's SHA-256 through a unique index, never by the secret: how long
    that comparison takes tells nothing about a stored secret, as nobody can choose the hash
    their guess has."""
    credential = credential_by_hash(kind=kind, secret_hash=secret_hash(secret))
    if credential is None:
        raise CredentialRefused(f"No such {kind}.", code="unknown")
    if credential.revoked_at is not None:
        raise CredentialRefused(f"This {kind} was revoked.", code="revoked")
    credential_touch(credential=credential, at=at)
    return credential
