"""The ``safevla`` command line."""
