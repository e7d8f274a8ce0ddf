"""The local backend: the Backend protocol over the store and the embedded engine.

``backend`` is the protocol's implementation; ``instances`` and ``reads`` are the queries
it answers with, kept apart so the class reads as the list of what it does.
"""

from opscenter.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
