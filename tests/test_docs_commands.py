"""Every command in README.md and docs/*.md runs as written.

A command is a line of a ```bash block that starts with `python` (after
any `NAME=value` assignments, with `\\` continuations joined), or an inline
code span that starts with `python `. Each command is one of:

- a recipe, `python recipes/NAME.py ...`: the recipe's own absl flags parse
  its arguments, validators included, without running it (every recipe in
  one subprocess, so TensorFlow is imported once);
- a module whose options argparse reads (`python -m benchmarks.X`): the
  options are parsed, nothing is measured; an absl module that needs what
  is not here (`ABSL`): its flags are parsed;
- `python -c "..."`: the code compiles;
- quick (`QUICK`): it runs, and must exit 0;
- skipped (`SKIPPED`), for the reason given there.

A command that is none of these fails, so that a new command cannot slip
into the docs unchecked. Output blocks (fences without `bash`) are not
commands, and a test fails if one of them holds a line that starts with
`python `.

Where the run a documented recipe command made is here (`runs/DIR`, not in
git), the command must pass exactly the flags that differ from the
recipe's defaults in the run's `flags.txt`.
"""

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted(
    os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs"))
    if name.endswith(".md"))
SHELL = {"bash", "sh", "shell", "console"}

# Commands that run in seconds and need nothing prepared: run as written.
# Each entry is the start of the arguments after `python`.
QUICK = [
    ("-m", "zoo.models"),
    ("-m", "tests.bad_inputs.table"),
    ("-m", "zoo.show", "shapes"),
    ("-m", "zoo.show", "example"),
]
# Commands that are not run, each with its reason.
SKIPPED = {
    ("-m", "pytest"): "the whole suite (about 22 minutes); .ci/run runs it",
    ("-m", "venv"): "creates a virtual environment",
}
# Commands of absl modules that need a finished run: flags parsed, not run.
ABSL = [
    ("-m", "zoo.show", "attention"),
    ("-m", "zoo.show", "generate"),
]
# Modules whose options argparse reads: parsed, not run.
OPTIONS = ("benchmarks.",)


@dataclasses.dataclass(frozen=True)
class Command:
    where: str         # "README.md:85"
    env: tuple         # (("KERAS_BACKEND", "jax"), ...)
    argv: tuple        # ("python", "recipes/gpt_pretrain.py", "--model_dir=runs/gpt")

    def __str__(self):
        return shlex.join(self.argv)


def _split(text):
    """Shell words of `text`, with `&&`, `||`, `;` and `|` as words of
    their own; `#` starts a comment. Raises ValueError on open quotes."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    return list(lexer)


_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=.*")
_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")


def _commands_of(words, where):
    """The python commands among a logical line's words."""
    found, segment = [], []
    for word in words + [";"]:
        if word in (";", "&&", "||", "|", "&"):
            env = []
            while segment and _ASSIGNMENT.fullmatch(segment[0]):
                env.append(tuple(segment.pop(0).split("=", 1)))
            if segment and segment[0] in ("python", "python3"):
                found.append(Command(where, tuple(env), tuple(segment)))
            segment = []
        else:
            segment.append(word)
    return found


def _shell_lines(lines, first):
    """Logical lines of a shell block: `\\` continuations joined, a quote
    left open continued on the next line. Yields (line number, words)."""
    pending, start = "", None
    for number, line in enumerate(lines, first):
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        pending += line
        try:
            words = _split(pending)
        except ValueError:  # an open quote: python -c "...
            pending += "\n"
            continue
        yield start, words
        pending, start = "", None
    if pending.strip():
        raise ValueError(f"line {start}: a command left open: {pending!r}")


def extract(path):
    """(commands, stray lines): the commands of one Markdown file, and the
    lines of non-shell fences that start with `python `."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as file:
        lines = file.read().splitlines()
    commands, strays = [], []
    fence, block, block_start = None, [], 0
    for number, line in enumerate(lines, 1):
        opening = re.match(r"^\s*```(\S*)", line)
        if fence is None and opening:
            fence, block, block_start = opening.group(1), [], number + 1
        elif fence is not None and line.strip().startswith("```"):
            if fence in SHELL:
                variables = {}  # D=../shared/data/multi30k on a line of its own
                for start, words in _shell_lines(block, block_start):
                    if words and all(_ASSIGNMENT.fullmatch(w) for w in words):
                        variables.update(w.split("=", 1) for w in words)
                        continue
                    words = [_VARIABLE.sub(lambda m: variables.get(
                        m.group(1) or m.group(2), m.group(0)), w) for w in words]
                    commands += _commands_of(words, f"{path}:{start}")
            elif fence != "python":
                strays += [f"{path}:{block_start + i}: {text}"
                           for i, text in enumerate(block)
                           if text.lstrip().startswith("python ")]
            fence = None
        elif fence is not None:
            block.append(line)
        else:
            for span in re.findall(r"`(python3? [^`]+)`", line):
                commands += _commands_of(_split(span), f"{path}:{number}")
    return commands, strays


def all_commands():
    commands, strays = [], []
    for path in DOCS:
        found, stray = extract(path)
        commands += found
        strays += stray
    return commands, strays


COMMANDS, STRAYS = all_commands()


def classify(command):
    """(kind, detail): kind is recipe, options, absl, snippet, quick or
    skip."""
    args = command.argv[1:]
    recipe = re.fullmatch(r"recipes/(\w+)\.py", args[0]) if args else None
    if recipe:
        return "recipe", recipe.group(1)
    if args[:1] == ("-c",) and len(args) >= 2:
        return "snippet", args[1]
    for prefix, reason in SKIPPED.items():
        if args[:len(prefix)] == prefix:
            return "skip", reason
    if any(args[:len(prefix)] == prefix for prefix in QUICK):
        return "quick", None
    if any(args[:len(prefix)] == prefix for prefix in ABSL):
        return "absl", args[1]
    if args[:1] == ("-m",) and len(args) >= 2 and args[1].startswith(OPTIONS):
        return "options", args[1]
    return None, None


# Runs in one subprocess: reads [[key, kind, target, args], ...] on stdin,
# prints RESULTS {key: {"error": ..., "flags": ...}}, where flags are a
# recipe's flags that differ from its defaults. Recipes are loaded one
# after the other into absl's FLAGS (the previous recipe's flags deleted
# first); a "flagfile" job parses a run's flags.txt (the lines of this
# recipe's flags); argparse modules run as __main__ until their parse_args
# returns.
CHECKER = r"""
import argparse, contextlib, io, json, runpy, sys
sys.path.insert(0, "recipes")
from absl import flags
import common  # noqa: F401  TensorFlow, Keras and the zoo, once
FLAGS = flags.FLAGS
BASE = set(FLAGS)
loaded = [None]


class Parsed(Exception):
    pass


def load(name, module=False):
    if loaded[0] != name:
        for flag in set(FLAGS) - BASE:
            delattr(FLAGS, flag)
        loaded[0] = None
        if module:
            runpy.run_module(name, run_name="docs_check")
        else:
            runpy.run_path(f"recipes/{name}.py", run_name=f"docs_check_{name}")
        loaded[0] = name
    return set(FLAGS) - BASE


def absl_module(name, args):
    load(name, module=True)
    FLAGS.unparse_flags()
    FLAGS([name] + args)


def recipe(name, args):
    names = load(name)
    FLAGS.unparse_flags()
    FLAGS([f"{name}.py"] + args)
    return {flag: repr(FLAGS[flag].value) for flag in sorted(names)
            if FLAGS[flag].value != FLAGS[flag].default}


def flagfile(name, args):
    names = load(name)
    lines = []
    with open(args[0]) as file:
        for line in file.read().splitlines():
            flag = line[2:].split("=")[0]
            if line.startswith("--") and (flag in names or (
                    flag.startswith("no") and flag[2:] in names)):
                lines.append(line)
    return recipe(name, lines)


def options(module, args):
    original = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        original(self, args, namespace)
        raise Parsed()

    argparse.ArgumentParser.parse_args = parse
    sys.argv = [module] + args
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    except Parsed:
        pass
    finally:
        argparse.ArgumentParser.parse_args = original


results = {}
for key, kind, target, args in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            check = {"recipe": recipe, "flagfile": flagfile,
                     "absl": absl_module}.get(kind, options)
            results[key] = {"error": None, "flags": check(target, args)}
    except SystemExit as error:
        results[key] = {"error": None if error.code in (0, None) else
                        err.getvalue().strip() or f"exit {error.code}"}
    except Exception as error:
        results[key] = {"error": f"{type(error).__name__}: {error}"}
print("RESULTS " + json.dumps(results))
"""


_RUNS = {}  # the same command in several docs runs once


def run_once(command):
    key = (command.env, command.argv)
    if key not in _RUNS:
        _RUNS[key] = subprocess.run(
            [sys.executable] + list(command.argv[1:]), cwd=ROOT,
            env={**os.environ, **dict(command.env)}, capture_output=True,
            text=True, timeout=300)
    return _RUNS[key]


def _model_dir(command):
    """The --model_dir a recipe command names, or None."""
    for word in command.argv[2:]:
        if word.startswith("--model_dir="):
            return word.split("=", 1)[1]
    return None


def _recorded_run(command):
    """(recipe, flags.txt) of the local run a documented recipe command
    made, if its model dir is here (runs/ is not in git)."""
    kind, name = classify(command)
    directory = _model_dir(command) if kind == "recipe" else None
    if not directory or not os.path.isfile(
            os.path.join(ROOT, directory, "run.json")):
        return None
    with open(os.path.join(ROOT, directory, "run.json")) as file:
        if json.load(file).get("recipe") != name:
            return None
    return name, os.path.join(directory, "flags.txt")


RECORDED = [command for command in COMMANDS if _recorded_run(command)]


@pytest.fixture(scope="session")
def parsed():
    """{key: {"error": ..., "flags": ...}} for every recipe and options
    command, and every local run's flags.txt, from one subprocess."""
    jobs = []
    for command in COMMANDS:
        kind, target = classify(command)
        if kind in ("recipe", "options", "absl"):
            jobs.append([command.where + " " + str(command), kind, target,
                         list(command.argv[2:] if kind == "recipe"
                              else command.argv[3:])])
    for command in RECORDED:
        name, flags_file = _recorded_run(command)
        jobs.append([flags_file, "flagfile", name, [flags_file]])
    jobs.sort(key=lambda job: (job[1] == "options", job[2]))  # each loaded once
    done = subprocess.run([sys.executable, "-c", CHECKER], cwd=ROOT,
                          input=json.dumps(jobs), capture_output=True,
                          text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines()
             if line.startswith("RESULTS ")]
    assert lines, f"the flag checker failed:\n{done.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULTS "):])


def test_the_docs_have_their_commands():
    texts = {str(command) for command in COMMANDS}
    assert "python recipes/gpt_pretrain.py --model_dir=runs/gpt" in texts
    assert "python -m pytest -n 2" in texts
    assert len(COMMANDS) > 30


def test_no_command_outside_a_shell_block():
    assert not STRAYS, ("these lines look like commands in a fence that is "
                        "not ```bash (so they are not checked):\n"
                        + "\n".join(STRAYS))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.where)
def test_command_runs_as_written(command, request):
    kind, detail = classify(command)
    assert kind is not None, (
        f"{command.where}: `{command}` is neither a recipe, an argparse "
        "module, quick, nor skipped: add it to QUICK or SKIPPED in "
        "tests/test_docs_commands.py")
    if kind == "skip":
        pytest.skip(detail)
    if kind == "snippet":
        compile(detail, command.where, "exec")
    elif kind in ("recipe", "options", "absl"):
        error = request.getfixturevalue("parsed")[
            command.where + " " + str(command)]["error"]
        assert error is None, f"{command.where}: `{command}`: {error}"
    else:  # quick
        done = run_once(command)
        assert done.returncode == 0, (
            f"{command.where}: `{command}` exited {done.returncode}:\n"
            f"{done.stderr[-3000:]}")


@pytest.mark.parametrize("command", RECORDED, ids=lambda c: c.where)
def test_a_result_command_is_its_runs_command(command, parsed):
    """Where the run a documented command made is here (runs/DIR with its
    flags.txt), the command passes exactly the flags that differ from the
    recipe's defaults in that run."""
    _, flags_file = _recorded_run(command)
    documented = parsed[command.where + " " + str(command)]
    recorded = parsed[flags_file]
    assert documented["error"] is None and recorded["error"] is None
    documented, recorded = documented["flags"], recorded["flags"]
    with open(os.path.join(ROOT, flags_file)) as file:
        before_auto = "# auto --" not in file.read()
    if before_auto:  # recorded when float32 and XLA were the defaults
        for flags in (documented, recorded):
            for name in ("precision", "xla"):
                flags.pop(name, None)
    assert documented == recorded, (
        f"{command.where}: `{command}` differs from {flags_file}")
