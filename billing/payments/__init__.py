"""Payments: collecting issued invoices through Stripe, or by bank transfer when Stripe is off.

One seam: `billing.stripe_gateway` is the only module that imports `stripe`;
`gateway.payment_gateway()` returns it when STRIPE_SECRET_KEY is set, else the offline
gateway. Modules by concern: customers (Stripe customer, Checkout and Billing Portal
sessions), methods (cards as Stripe last said), charging (attempts, paid/unpaid),
dunning (retries and the final action), refunds (credit notes to the card), events
(webhook events, handled from the object's current state), selectors, tasks, views.
"""
