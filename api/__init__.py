"""The REST API under /api/v1/: every endpoint, one base class, one error format, one way in.

One base class: every view is an `api.base.ApiView`, which carries the error handler, OPTIONS
(described by the view's own `InputSerializer`), the authentication classes and `bind()`.

One error format: every refusal answers `{"code", "message", "field"}`, plus `fields`
(messages per input field) for invalid input and `scope` for `scope_missing`: 400 invalid
input, 401 no or a bad API key, 403 a person without the capability (or not logged in) or a
key without the operation's scope, 404 an organization the caller is not bound to or an
object it does not hold, 405, 409 a service's refusal, 415, and 429 with Retry-After for a
limit reached (a key's or its organization's rate limit: `rate_limited`). Per-event results
inside a 200 ingestion answer (a rejected event's `code` and `message`) are data, not errors.

One authentication story, two kinds of caller, both bound to one organization by
`ApiView.bind()` before the view runs:

- People use their session (the login pages'; DRF checks CSRF on writes) and are bound to the
  URL's organization through their membership (`organizations.tenancy`: 404 for a
  non-member, 403 without the view's capability).
- The SaaS's machine client uses the organization's API key, `Authorization: Bearer sbk_…`
  (`api.authentication`), and is bound to the key's organization: a key on another
  organization's URL is 404. Unknown or revoked keys are 401, and too many of them from one
  address 429 (only failures are counted). A key may call an operation only with the scope
  the view declares for it (`ApiView.scope`; 403 `scope_missing` naming it); every request
  with a key takes a token from the key's and its organization's rate limit buckets.

Every endpoint takes both (usage ingestion takes keys only). The operations and their scopes,
the rate limits, and what a new endpoint must declare: docs/api.md.

SCIM (`/scim/v2/`, `seats.identity.scim_api`) stays outside this package: it speaks RFC 7644,
whose clients expect its own error schema, and authenticates with the organization's SCIM
tokens.
"""
