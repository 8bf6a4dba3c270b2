"""The billing and organization API under /api/v1/organizations/<organization_id>/ (billing.api.urls).

Thin views: parse, authorize (`base.OrganizationApi`), call one selector or service,
render. Business rules live in the services they call.
"""
