"""Test doubles that the tests and the benchmarks (bench/) both use, so bench/ never imports the test
tree: a fake model provider (:mod:`.fake_openai`) and a sandbox whose agent finishes at once
(:mod:`.instant_provider`). Never shipped: devstack is not part of a Lambda layer."""
