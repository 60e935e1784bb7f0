"""Test support shipped with etl-shared: a pytest plugin (fixtures) and the contract suite.

Installed with the `testing` extra; the plugin registers itself through the `pytest11`
entry point, so every platform that installs `etl-shared[testing]` gets the fixtures.
"""
