"""Test helpers: a protocol client (``wsclient``) and an in-process hub server (``server``)."""
