"""Refusals that carry a rule code, so callers (views, API, simulate) can show or report them."""


class RuleViolation(Exception):
    """An action broke a rule and was refused whole: nothing changed."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class LastOwner(RuleViolation):
    code = "last_owner"
