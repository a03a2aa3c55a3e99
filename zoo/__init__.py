"""zoo: a Keras 3 model zoo for Transformers.

`import zoo` registers every zoo class with Keras, so that
`keras.saving.load_model("model.keras")` can rebuild a saved task (with
its tokenizer and its optimizer's schedule).
"""

from zoo import console

console.quiet_tensorflow()  # before anything below loads TensorFlow

from zoo import blocks  # noqa: E402, F401
from zoo import models  # noqa: E402, F401
from zoo import tasks  # noqa: E402, F401
from zoo.data import tokenizers  # noqa: E402, F401
from zoo.training import optimizers  # noqa: E402, F401

__version__ = "0.1.0"
