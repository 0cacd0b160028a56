"""Data files shipped with the package: built-in calendars and the default policy."""
