"""One module per `live` subcommand: add_arguments(parser) and run(args) -> int."""
