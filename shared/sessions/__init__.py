"""Sessions: one live browser that runs many tasks, driven by direct actions between them
(docs/sessions.md). ``lifecycle`` owns the status changes, ``envelope`` the reads, ``service`` the operations,
``commands`` the path into the sandbox, ``reaper`` expiry and reconciliation."""
