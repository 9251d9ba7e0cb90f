"""Entry point of the bundled program: exactly the ``clinic-app`` console script."""

import sys

from clinic_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
