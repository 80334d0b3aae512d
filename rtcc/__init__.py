"""rtcc: an open simulator of a police Real-Time Crime Center."""

__version__ = "0.1.0"
