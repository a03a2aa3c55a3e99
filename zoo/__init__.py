"""zoo: a Keras 3 model zoo for Transformers.

`import zoo` registers every zoo class with Keras, so that
`keras.saving.load_model("model.keras")` can rebuild a saved task (with
its tokenizer and its optimizer's schedule).
"""

from zoo import blocks  # noqa: F401
from zoo import models  # noqa: F401
from zoo import tasks  # noqa: F401
from zoo.data import tokenizers  # noqa: F401
from zoo.training import optimizers  # noqa: F401

__version__ = "0.1.0"
