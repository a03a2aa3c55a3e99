"""Print the preset table: `python -m zoo.models`.

Counts come from weight shapes, so even gpt2_xl takes about a second.
"""

from zoo.models import PRESETS
from zoo.models import get_backbone_class


def main():
    print("| preset | backbone | layers/hidden/heads/ff | vocab, max length | params |")
    print("|---|---|---|---|---|")
    for name, (family, config) in PRESETS.items():
        count = get_backbone_class(name).count_preset_params(name)
        layers = config["num_layers"]
        if family == "Transformer":
            layers = f"{layers}+{layers}"
        shape = (f"{layers}/{config['hidden_dim']}/{config['num_heads']}/"
                 f"{config['intermediate_dim']}")
        print(f"| `{name}` | `{family}` | {shape} | "
              f"{config['vocabulary_size']}, {config['max_sequence_length']} | "
              f"{count:,} |")


if __name__ == "__main__":
    main()
