"""Run saved zoo tasks on the Keras backend of this process.

    KERAS_BACKEND=jax python tests/backend_worker.py REQUEST.json

REQUEST.json names `.keras` files, the inputs to call each task on (an
`.npz` file) and what to generate; the worker writes the outputs, the
generated ids and the backend it ran on to the request's `output` `.npz`.
tests/test_cross_backend.py compares them across backends.
"""

import json
import sys

import keras
import numpy as np

import zoo  # noqa: F401  registers the zoo's classes


def main(request_path):
    with open(request_path) as file:
        request = json.load(file)
    results = {"backend": np.array(keras.backend.backend())}
    for name, job in request["tasks"].items():
        task = keras.saving.load_model(job["path"], compile=False)
        with np.load(job["inputs"]) as data:
            inputs = {key: data[key] for key in data.files}
        outputs = task(inputs, training=False)
        results[f"{name}/outputs"] = keras.ops.convert_to_numpy(outputs)
        for sampler in job.get("samplers", []):
            generated = task.generate(job["prompts"], sampler=sampler,
                                      **job.get("options", {}))
            results[f"{name}/{sampler}"] = np.array(
                [row + [-1] * (64 - len(row)) for row in generated])
    np.savez(request["output"], **results)


if __name__ == "__main__":
    main(sys.argv[1])
