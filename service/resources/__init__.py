"""The HTTP resources, one package each: ``routes.py`` (a blueprint of thin routes) and
``schemas.py`` (what the routes accept and answer); ``common.py`` holds what they share, and
``blueprints.py`` registers them all. No resource imports another."""
