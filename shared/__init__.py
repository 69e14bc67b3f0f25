"""OpenHelm domain package: models, data access, run logic, sandbox providers, signing, config.

Shipped to Lambda as a layer; imported by every function under functions/ and by the local stack.
Nothing here knows whether it runs in AWS or in the embedded local stack: only configuration differs.
"""
