"""``safevla`` for a machine where the package is on PYTHONPATH, not installed (the spawned
worker envs re-import this file, hence the guard)."""

import sys

from safevla_ros.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
