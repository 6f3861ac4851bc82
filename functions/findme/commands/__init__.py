"""Sub-commands of the ``findme`` CLI (see ``findme.cli``)."""
