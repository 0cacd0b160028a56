"""Readers that turn an export file into canonical rows (columns: `base`)."""
