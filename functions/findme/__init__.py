"""FindMe: serverless face search for event photos."""

__version__ = "0.1.0"
