"""zoo: a Keras 3 model zoo for Transformers."""

__version__ = "0.1.0"
