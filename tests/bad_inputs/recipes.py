"""Bad-input cases: the recipes' flags (see tests/bad_inputs/table.py).

Each runs the recipe as a user does; flags are refused before any work
(most when absl parses them), with one line and no traceback."""

from tests.bad_inputs.table import Case

GPT = "recipes/gpt_pretrain.py"
RUN = "--model_dir={tmp}/run"


def gpt(given, expect, *flags):
    return Case("recipe", f"`gpt_pretrain {given}`", expect,
                argv=(GPT, RUN, *(flags or (given,))))


CASES = [
    gpt("--batch_size=0", "--batch_size must be a number above 0"),
    gpt("--batch_size=100000", "GiB for a training step of this model",
        "--batch_size=100000", "--train_files={tmp}/text.txt",
        "--tokenizer=character"),
    gpt("--steps=-5", "--steps must be a number above 0"),
    gpt("--learning_rate=-1", "--learning_rate must be a number above 0"),
    gpt("--learning_rate=nan", "--learning_rate must be a number above 0"),
    gpt("--weight_decay=-0.1", "--weight_decay must be a number of at least 0"),
    gpt("--beta_2=1", "--beta_2 must be in [0, 1)"),
    gpt("--dropout=1.5", "--dropout must be in [0, 1)"),
    gpt("--clipnorm=-1", "--clipnorm must be a number of at least 0"),
    gpt("--warmup_steps=-1", "--warmup_steps must be a number of at least 0"),
    gpt("--gradient_accumulation=0",
        "--gradient_accumulation must be a number above 0"),
    gpt("--validation_fraction=1", "--validation_fraction must be in (0, 1)"),
    gpt("--sequence_length=1", "--sequence_length must be at least 2"),
    gpt("--sequence_length=100000", "exceeds the model's max_sequence_length",
        "--sequence_length=100000", "--train_files={tmp}/text.txt",
        "--tokenizer=character"),
    gpt("--temperature=0", "--temperature must be a number above 0"),
    gpt("--top_k=0", "--top_k must be a number above 0"),
    gpt("--steps=10 --checkpoint_every=3", "must divide --steps=10",
        "--steps=10", "--checkpoint_every=3"),
    gpt("--stop_after=3", "must be a multiple of --checkpoint_every"),
    gpt("--vocabulary_size=5",
        "too small for a byte_pair tokenizer: it needs at least 258"),
    gpt("--override=num_layers=abc", "num_layers must be a whole number"),
    gpt("--override=num_layerz=2", "Unknown override(s) ['num_layerz']"),
    gpt("--override=layers", "is not KEY=VALUE"),
    gpt("--override=num_layers=0", "num_layers must be at least 1"),
    gpt("--override=dropout=1.5", "dropout must be a finite number in [0, 1)"),
    gpt("--preset=gpt_huge", "Unknown GPTDecoder preset 'gpt_huge'"),
    gpt("--train_files=missing.txt",
        "--train_files: data file 'missing.txt' does not exist"),
    gpt("--mesh=a,b", "is not BATCH,MODEL"),
    gpt("--devices=2", "--devices is for --distribution"),
    gpt("--distribution=data_parallel", "runs on the jax backend"),
    gpt("--num_processes=0", "--num_processes must be a number above 0"),
    Case("recipe", "`gpt_pretrain --model_dir=/dev/null` (not a directory)",
         "is a file; give a directory", argv=(GPT, "--model_dir=/dev/null")),
    Case("recipe", "`gpt_pretrain --resume` on a new model dir",
         "holds no run to resume", argv=(GPT, RUN, "--resume")),
    Case("recipe", "`bert_pretrain --tokenizer=byte_pair`",
         "bert_pretrain needs a WordPiece tokenizer",
         argv=("recipes/bert_pretrain.py", RUN, "--tokenizer=byte_pair")),
    Case("recipe", "`bert_pretrain --masking_rate=0`",
         "--masking_rate must be in (0, 1]",
         argv=("recipes/bert_pretrain.py", RUN, "--masking_rate=0")),
    Case("recipe", "`bert_finetune --init_from=` a path that does not exist",
         "--init_from: data file",
         argv=("recipes/bert_finetune.py", RUN, "--init_from={tmp}/nothing")),
    Case("recipe", "`transformer_finetune --num_beams=0`",
         "--num_beams must be a number above 0",
         argv=("recipes/transformer_finetune.py", RUN, "--num_beams=0")),
    Case("recipe", "`transformer_finetune --label_smoothing=1`",
         "--label_smoothing must be in [0, 1)",
         argv=("recipes/transformer_finetune.py", RUN, "--label_smoothing=1")),
    Case("recipe", "`export --model_dir=` a dir without a finished run",
         "No final model in",
         argv=("recipes/export.py", "--model_dir={tmp}",
               "--export_dir={tmp}/export")),
]
