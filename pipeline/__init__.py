"""SLA compliance reporting pipeline."""

__version__ = "0.1.0"
