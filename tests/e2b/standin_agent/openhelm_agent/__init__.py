"""Stand-in ``openhelm_agent`` for the E2B wire tests (see ``__main__``)."""
