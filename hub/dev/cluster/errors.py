"""Errors of the local-cluster tooling."""

from __future__ import annotations


class IgniteError(Exception):
    """Base class for local-cluster errors."""


class JarFetchError(IgniteError):
    """The Ignite jars could not be fetched (no Maven, no network, ...)."""


class ClusterStartError(IgniteError):
    """A node did not start; the message carries the tail of its log."""
