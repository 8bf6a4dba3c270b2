"""The REST API: every endpoint, one base class, one error format, one way to authenticate."""
