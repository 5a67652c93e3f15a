"""synchub: a real-time sync hub between IndexedDB and Apache Ignite 2.x."""

__version__ = "0.1.0"
