"""The features job (``segment features``): raw transactions -> one row per customer."""
