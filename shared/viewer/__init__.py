"""The run viewer (a signed page per run) and the trace bundle (one zip per run, opened offline)."""
