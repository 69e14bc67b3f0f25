"""The OpenAI-compatible face of runs: ``POST /v1/chat/completions`` and ``GET /v1/models``.

A thin layer over :mod:`shared.runs.service`: a chat request becomes one run (create), the answer is
that run's result (get, polled), and a client that leaves cancels it (cancel). ``models`` is the
wire shape, ``mapping`` turns requests, runs and errors into it, ``app`` is the WSGI application the
function behind the Lambda Web Adapter serves (streaming needs RESPONSE_STREAM, which the Python
managed runtime cannot do by itself).
"""
