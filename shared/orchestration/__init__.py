"""The tasks of the run state machine (statemachine/run.asl.json), one module each."""
