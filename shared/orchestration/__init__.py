"""The tasks of the run state machine (statemachine/run.asl.json), one module each, named as the
state is (in snake_case) and as the step the state sends to functions/run_steps: ``admit`` (Admit),
``start_sandbox`` (StartSandbox), ``finalize`` (Finalize), ``cleanup`` (Cleanup); the error names
its Retry and Catch match are documented in shared/errors.py."""
