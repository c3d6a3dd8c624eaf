"""One module per `recipec` subcommand: add_arguments(parser) and run(args) -> int."""
