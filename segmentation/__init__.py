"""Customer segmentation at data-lake scale on Apache Spark (see README.md)."""

__version__ = "0.1.0"
