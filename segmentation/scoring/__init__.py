"""The scoring job (``segment score``): new customers -> segments of a finished run."""
