"""The pure sync core: no I/O, no clock reads, no awaits.

Adapters (``hub.store``, ``hub.server``, ``hub.codec``) pass time and data in and carry out
what the core decides. ``tests/core/test_purity.py`` walks these imports to keep it that way.
"""
