"""The ``tango`` command-line client (wsk-compatible) and service launcher; see ``cli.main``."""
