"""music-mlops: the ML package behind the platform.

The folders follow the path data takes:
sources -> lake -> features -> models -> evaluation -> registry.
"""

__version__ = "0.1.0"
