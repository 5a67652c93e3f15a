"""Development tooling: local Ignite clusters (:mod:`hub.dev.cluster`), throwaway TLS material
(:mod:`hub.dev.pki`) and the ``synchub dev`` demo (:mod:`hub.dev.demo`).

Nothing on the ``synchub serve`` path imports this package; ``tests/test_layering.py`` checks it.
"""
