"""The command line's own exception, below every module that raises it.

Config, world, console, remote and the verbs all refuse a mistaken command the same way;
it lives here so none of them imports another's module for an exception.
"""

from __future__ import annotations


class UsageError(Exception):
    """A mistake on the command line or in its inputs: printed, exit status 2."""
