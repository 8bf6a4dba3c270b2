"""Single sign-on and SCIM provisioning, gated on seats (issue 9).

- `sso.py`: owners' OpenID Connect settings and the sign-in (mozilla-django-oidc does the
  protocol: token exchange, ID token signature, userinfo); a first sign-in makes the
  person a member just in time through `seats.services.members_add`.
- `provisioning.py`: SCIM Users and Groups writes (scim2-models parses, validates and
  patches the resources); creating or reactivating a user takes a seat, deactivating
  or deleting releases it through `seats.services.members_remove`.
- `waiting.py`: who waits for a seat, the daily e-mail to owners, buying the seats they
  need and admitting them in one confirmation.
- `alerts.py`: an e-mail to owners when free seats fall to the threshold they set.
- `scim_api.py` and `views.py`: the HTTP edges (SCIM at /scim/v2/, pages under /o/<slug>/).
"""
