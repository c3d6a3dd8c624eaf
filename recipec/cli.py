"""The command line: `run(argv) -> int`, one module per command under recipec/commands/."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from recipec.version import __version__
from recipec.diagnostics import Diagnostic, DiagnosticError
from recipec.exitcodes import EXIT_OK, exit_code

# The explicit command registry: name -> module under recipec.commands (add_arguments, run).
COMMANDS: dict[str, str] = {
    "lint": "lint",
    "fmt": "fmt",
    "inspect": "inspect",
    "compile": "compile",
    "render": "render",
    "explain": "explain",
    "simulate": "simulate",
    "verify": "verify",
    "diff": "diff",
    "import": "import_",
    "measure": "measure",
    "roles": "roles",
    "card": "card",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors are diagnostics too, exit 2
        raise DiagnosticError(Diagnostic("U001", message, hint=f"see `{self.prog} --help`"))


def missing_dependency(command: str, package: str) -> Diagnostic:
    """U003: `recipec COMMAND` needs the third-party PACKAGE, which is not installed."""
    return Diagnostic(
        "U003", f"`recipec {command}` needs the Python package `{package}`, which is not installed",
        hint=f"pip install {package} (or reinstall recipec with its dependencies)")


def _third_party(exc: ModuleNotFoundError) -> str | None:
    """The top-level package a failed import names, unless it is recipec's own (a bug, not a user's)."""
    top = (exc.name or "").split(".")[0]
    return top if top and top != "recipec" else None


class _Unavailable:
    """A command whose module cannot be imported because a third-party package is missing:
    it still parses (so `--help` lists it), and running it reports U003 and writes nothing."""

    def __init__(self, name: str, package: str):
        self.__doc__ = f"(unavailable: needs the Python package {package})"
        self.name, self.package = name, package

    def add_arguments(self, parser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER)

    def run(self, args) -> int:
        raise DiagnosticError(missing_dependency(self.name, self.package))


def _available(command: str | None = None) -> dict[str, object]:
    """The command modules (only COMMAND's when it names one: a run needs no other). They import
    only what their arguments need (the standard library and light recipec modules); each command
    imports its heavy dependencies when it runs."""
    mods = {}
    names = [command] if command in COMMANDS else list(COMMANDS)
    for name in names:
        mod = COMMANDS[name]
        try:
            mods[name] = importlib.import_module(f"recipec.commands.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"recipec.commands.{mod}":
                continue
            package = _third_party(exc)
            if package is None:
                raise
            mods[name] = _Unavailable(name, package)
    return mods


def _usage(message: str) -> Diagnostic:
    return Diagnostic("U001", message, hint="see `recipec --help`")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With a known COMMAND it holds that command alone (nothing else is
    parsed, so no other command's module need be imported); otherwise every command is listed, for
    `--help` and for the usage error that names the choices."""
    parser = _Parser(prog="recipec", description="Compile llama.cpp quantization recipes.")
    parser.add_argument("--version", action="version", version=f"recipec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, mod in _available(command).items():
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        p = sub.add_parser(name, help=doc, description=doc)
        if command is None or name == command:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _command(argv: list[str]) -> str:
    """The command ARGV names (its first word that is not an option), or "" when there is none or
    an option comes first (`recipec --help lint` prints the whole program's help)."""
    return argv[0] if argv and not argv[0].startswith("-") else ""


def _run_command(args) -> int:
    """Run the parsed command; a third-party package missing at run time is U003, not a traceback."""
    try:
        return int(args._run(args))
    except ModuleNotFoundError as exc:
        package = _third_party(exc)
        if package is None:
            raise
        raise DiagnosticError(missing_dependency(args.command, package)) from None


def run(argv: list[str] | None = None) -> int:
    """Run recipec with ARGV (without the program name); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_command(argv))
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version; argparse's errors arrive as U001 above
            return EXIT_OK if not exc.code else exit_code([_usage(f"argparse exited with {exc.code}")])
        if not getattr(args, "_run", None):
            parser.print_help(sys.stderr)
            return exit_code([_usage("no command given")])
        return _run_command(args)
    except DiagnosticError as exc:  # a stage stopped: its diagnostics say why and decide the code
        from recipec.report import print_text

        print_text(exc.diagnostics, sys.stderr)
        return exit_code(exc.diagnostics)
    except KeyboardInterrupt:
        print("recipec: interrupted", file=sys.stderr)
        return 130  # the shell's convention for SIGINT, outside the contract
    except BrokenPipeError:  # the reader went away (`| head`): nothing to report to
        return exit_code([Diagnostic("E401", "the output pipe was closed")])
    except Exception:  # the last line of defence: a bug, reported as one
        import traceback

        from recipec.report import print_text

        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        bug = Diagnostic("X001", f"internal error: {detail}", hint="please report this with the recipe and command")
        print_text([bug], sys.stderr)
        return exit_code([bug])


def main() -> None:
    """The `recipec` program: run() on sys.argv, exit with its code."""
    # By default the collector runs every 700 allocations and its older generations walk an ever
    # larger heap: about a fifth of a 6,000-tensor compile, growing faster than the model. A process
    # that lives a second or two and makes few reference cycles can afford to collect rarely.
    gc.set_threshold(200_000, 30, 30)
    # pydantic looks for third-party plugins (validation observers) by reading every installed
    # distribution's entry points the first time a model is built: about 10 ms of each start, for
    # hooks that have nothing to observe in a recipe. Set the variable yourself to keep them.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.exit(run())
