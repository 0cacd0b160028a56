"""SLA compliance reporting pipeline."""

__version__ = "0.3.3"
