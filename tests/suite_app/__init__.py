"""A test-only Django app (config/test_settings.py): what the test run needs from Django that
production must not have. Today: the ``flush`` that resets ``transaction=True`` tests."""
