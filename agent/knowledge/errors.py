"""The one error of the knowledge package."""

from __future__ import annotations


class KnowledgeError(ValueError):
    """A knowledge file, folder or index cannot be used; the message names it and says why.

    Raised for one file by :func:`agent.knowledge.documents.load_document` (an index reports such
    a file as failed and indexes the others), for a missing or badly named knowledge base by
    :class:`agent.knowledge.library.KnowledgeLibrary`, and for a missing embedding model.
    """


class UnknownKnowledgeBase(KnowledgeError, LookupError):
    """No knowledge base of that name (no such folder, or the name is not a valid one)."""
