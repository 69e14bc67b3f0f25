"""The run lifecycle, in three layers; each imports only the ones below it.

- :mod:`shared.runs.service`: create (validated, idempotent, rate limited), get, list, cancel, wait.
  The API and jobs call it.
- :mod:`shared.runs.lifecycle`: the only code that changes a run's status; the allowed transitions
  are the table :data:`shared.runs.lifecycle.TRANSITIONS`, and every transition is a conditional write
  (a finished run's event goes out from here).
- :mod:`shared.runs.envelope`: the public shapes of a run, the envelope (usage, priced steps, presigned
  evidence URLs) that the API and webhooks return and the summary that events carry.

The package itself imports nothing, so importing the lifecycle (as the state machine's steps do)
does not load the API's service.
"""
