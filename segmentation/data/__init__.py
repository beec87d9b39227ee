"""Customers in: reading, validating and dropping rows; the layout of a run directory."""
