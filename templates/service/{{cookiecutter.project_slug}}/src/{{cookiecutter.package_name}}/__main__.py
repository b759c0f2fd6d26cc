"""`python -m {{ cookiecutter.package_name }}`: run the application until SIGTERM or SIGINT."""

import sys

from {{ cookiecutter.package_name }}.application import main

if __name__ == "__main__":
    sys.exit(main())
