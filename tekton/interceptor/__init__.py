"""The ClusterInterceptor: verify a GitHub webhook, decide what it means, enrich the trigger.

Modules, from the edge inwards: ``cli`` (flags) → ``server`` (uvicorn + a minimal ASGI app) → ``service`` (one
request in, one response out, metrics and the decision log line) → ``protocol`` (Tekton's wire format) →
``signature`` and ``decision`` (pure).
"""
