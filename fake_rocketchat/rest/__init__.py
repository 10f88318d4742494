"""REST API of the stand-in: thin handlers, one module per route family, over the backend.

`base` is the shared pipeline (authentication, rate limiter, permissions, 2FA, error shapes),
`routes` the route table, `validate` the request-schema checks, `ratelimit` the REST limiter.
Handlers call only the backend's public methods (`fake_rocketchat.backend.state.State`).
"""
