"""Readers that turn an export file into canonical rows (see `base.RawBatch`)."""
