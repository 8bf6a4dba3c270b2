"""E-mail sent once a change commits: the subject on one line, a failure logged and never raised.

A subject with a line break (an organization's name typed with one) made Django refuse the
message (BadHeaderError) in an on_commit callback: the change was saved and the request still
answered 500. Names are refused at input too; this keeps any value from doing that again.
"""

from django.core.mail import send_mail
from django.db import transaction


def one_line(text: str) -> str:
    """`text` for a header: every run of whitespace, line breaks and separators included, is one space."""
    return " ".join(str(text).split())


def mail_after_commit(*, subject: str, body: str, recipients: list[str]) -> None:
    """Send after the caller's transaction commits (at once outside one). Robust: a mail
    server that refuses or is down is logged by Django, the committed change stands."""
    subject = one_line(subject)
    recipients = list(recipients)

    def send_mail_after_commit() -> None:  # named: Django logs a failing robust callback by its name
        send_mail(subject, body, None, recipients)

    transaction.on_commit(send_mail_after_commit, robust=True)
