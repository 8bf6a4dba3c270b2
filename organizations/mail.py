"""E-mail sent once a change commits, through the outbox: the subject on one line.

The message is an outbox row written in the change's transaction (outbox.relay): a mail
server that is down or refuses delays it, and the relay sends it again after a backoff; the
committed change and the request that made it never fail because of it.
A subject with a line break (an organization's name typed with one) made Django refuse the
message (BadHeaderError): names are refused at input too; this keeps any value from doing that.
"""

import uuid

from outbox.relay import outbox_enqueue


def one_line(text: str) -> str:
    """`text` for a header: every run of whitespace, line breaks and separators included, is one space."""
    return " ".join(str(text).split())


def mail_after_commit(
    *, subject: str, body: str, recipients: list[str], headers: dict[str, str] | None = None
) -> None:
    """Send after the caller's transaction commits (at once outside one), once
    (outbox.tasks.mail_send_task); a failure is retried by the outbox's relay. `headers`:
    extra headers (Content-Language)."""
    key = f"mail:{uuid.uuid4()}"
    kwargs = {"key": key, "subject": one_line(subject), "body": body, "recipients": list(recipients)}
    if headers:
        kwargs["headers"] = dict(headers)
    outbox_enqueue(task_name="outbox.mail_send", key=key, kwargs=kwargs)
