"""The permission matrix's organisation (built once per module), for the page fuzzing here."""

from tests.test_permission_matrix import world  # noqa: F401 - a fixture, made available by importing it
