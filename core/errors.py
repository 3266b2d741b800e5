"""The one shape of a refusal. Core raises these with a Chinese message a user can act on;
the web maps each kind to its HTTP status in one place (web/errors.py) and the CLI prints the
message. Nothing in core knows a status code.

Each capability keeps its own subclass (LibraryError, VisitError …) so callers can still catch
narrowly, but every one of them is one of these kinds."""
from __future__ import annotations


class DomainError(Exception):
    """A request core refuses; str() is the message shown to the user."""


class NotFound(DomainError):
    """Nothing there, or nothing this user may see (the two look the same on purpose)."""


class Gone(NotFound):
    """It was there and was withdrawn: a revoked QR code or door card."""


class Forbidden(DomainError):
    """Seen, but not this user's to do."""


class Conflict(DomainError):
    """Clashes with the current state: done already, or done at the same moment elsewhere."""


class Invalid(DomainError):
    """The input itself is wrong: the message says what to change."""


class TooMany(DomainError):
    """Too often from one listener; try again later."""


class Unavailable(DomainError):
    """The server cannot take this now (every slot busy); the same request later will do."""
