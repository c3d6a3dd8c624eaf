"""The command line: `run(argv) -> int`, one module per command under recipec/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

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
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors are diagnostics too, exit 2
        raise DiagnosticError(Diagnostic("U001", message, hint=f"see `{self.prog} --help`"))


class _Unavailable:
    """A command whose module cannot be imported because a third-party package is missing:
    it still parses (so `--help` lists it), and running it reports U003 and writes nothing."""

    def __init__(self, name: str, package: str):
        self.__doc__ = f"(unavailable: needs the Python package {package})"
        self.name, self.package = name, package

    def add_arguments(self, parser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER)

    def run(self, args) -> int:
        raise DiagnosticError(Diagnostic(
            "U003", f"`recipec {self.name}` needs the Python package `{self.package}`, which is not installed",
            hint=f"pip install {self.package} (or reinstall recipec with its dependencies)"))


def _available() -> dict[str, object]:
    mods = {}
    for name, mod in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(f"recipec.commands.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"recipec.commands.{mod}":
                continue
            if not exc.name or exc.name.split(".")[0] == "recipec":
                raise
            mods[name] = _Unavailable(name, exc.name.split(".")[0])
    return mods


def _usage(message: str) -> Diagnostic:
    return Diagnostic("U001", message, hint="see `recipec --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recipec", description="Compile llama.cpp quantization recipes.")
    parser.add_argument("--version", action="version", version=f"recipec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, mod in _available().items():
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else ""
        p = sub.add_parser(name, help=doc, description=doc)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Run recipec with ARGV (without the program name); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version; argparse's errors arrive as U001 above
            return EXIT_OK if not exc.code else exit_code([_usage(f"argparse exited with {exc.code}")])
        if not getattr(args, "_run", None):
            parser.print_help(sys.stderr)
            return exit_code([_usage("no command given")])
        return int(args._run(args))
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
        from recipec.report import print_text

        detail = traceback.format_exc(limit=-3).strip().splitlines()[-1]
        bug = Diagnostic("X001", f"internal error: {detail}", hint="please report this with the recipe and command")
        print_text([bug], sys.stderr)
        return exit_code([bug])


def main() -> None:
    sys.exit(run())
