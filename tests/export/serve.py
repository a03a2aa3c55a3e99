"""Call a SavedModel's signatures in a process that never imports zoo.

    python serve.py EXPORT_DIR CALLS.pkl RESULTS.pkl

CALLS.pkl holds a list of `(signature, {input: array})`; RESULTS.pkl gets
a list of `{output: array}`, or `{"error": message}` for a call that
failed, then `{"zoo_imported": bool}`.
"""

import pickle
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tokenizer ops

sys.modules["zoo"] = None  # from here on, `import zoo` fails


def main(export_dir, calls_path, results_path):
    with open(calls_path, "rb") as file:
        calls = pickle.load(file)
    served = tf.saved_model.load(export_dir)
    results = []
    for name, inputs in calls:
        function = served.signatures[name]
        try:
            outputs = function(**{k: tf.constant(v) for k, v in inputs.items()})
            results.append({k: v.numpy() for k, v in outputs.items()})
        except tf.errors.InvalidArgumentError as error:
            results.append({"error": error.message})
    results.append({"zoo_imported": sys.modules["zoo"] is not None or any(
        module.startswith("zoo.") for module in sys.modules)})
    with open(results_path, "wb") as file:
        pickle.dump(results, file)


if __name__ == "__main__":
    main(*sys.argv[1:])
