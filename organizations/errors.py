"""Refusals that carry a rule code, so callers (views, API, simulate) can show or report them."""


class RuleViolation(Exception):
    """An action broke a rule and was refused whole: nothing changed.

    `field` names the input the refusal is about (e.g. "country"), when there is one, so a
    form can show the message next to that input.
    """

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class LastOwner(RuleViolation):
    code = "last_owner"
