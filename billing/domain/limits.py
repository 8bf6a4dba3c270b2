"""Bounds on what one request may ask of the billing engine, whatever the plan allows."""

# The most seats one request may ask for: a purchase, or the seats a subscription starts
# with. A sanity bound (seat quantities are 32-bit integers in the database); plans cap
# seats lower. The services refuse more; forms and serializers use it as their bound.
MAX_SEATS = 100_000
