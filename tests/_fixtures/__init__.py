"""Support modules for the tests (not collected as tests)."""
