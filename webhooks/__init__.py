"""Outbound webhooks: an organization's HTTPS endpoints, told of what happens to its billing.

Lower apps announce through core/events; `hooks` turns each announcement into a
WebhookEvent and one WebhookDelivery per endpoint that picked its type, in the announcing
change's transaction, and queues each delivery through the outbox. docs/webhooks.md says
what a receiver gets and how it verifies it.
"""
