"""Contract suites shared by the unit tier (moto) and the integration tier (local stack).

Each suite is a class named ``*Contract`` (not collected by itself); a test module in each
tier subclasses it as ``Test...`` and provides the fixtures the suite asks for. ``tests/``
is on ``sys.path`` because pytest imports ``tests/conftest.py`` in prepend mode, so
``from contracts.metadata_store import MetadataStoreContract`` works from any tier.
"""
