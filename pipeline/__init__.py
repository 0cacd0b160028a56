"""SLA compliance reporting pipeline."""

__version__ = "0.2.0"
