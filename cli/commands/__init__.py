"""One module per ``tango`` command group; each has ``register(subparsers, global_flags)``
and handlers ``handler(args, ctx) -> exit code`` that ``cli.main`` dispatches to."""
