"""Stores: where collections live. ``base`` is the contract, ``ignite`` the real one,
``memory`` an in-process stand-in for fast core and transport tests."""
