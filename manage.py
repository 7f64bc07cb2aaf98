#!/usr/bin/env python
"""Django's command-line utility; configuration errors print one sentence, not a traceback.

`manage.py connect` is the exception: it writes the configuration, so it starts before Django.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if sys.argv[1:2] == ["connect"]:
        # `connect` writes the configuration, so it runs before Django reads any.
        from dashboard.onboarding.connect import main as connect

        sys.exit(connect(sys.argv[2:]))
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
