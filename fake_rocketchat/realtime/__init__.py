"""The stand-in's realtime API: Meteor DDP over a WebSocket at `/websocket`.

`session` runs one DDP session per socket; `protocol` is the pure framing (EJSON, message
checks, error shapes); `methods` dispatches `login`/`logout` and the backend's server methods;
`streams` holds Rocket.Chat's streamer rules, `access` answers their questions from the backend;
`ratelimit` is Meteor's DDP rate limiter and `server` keeps per-workspace timing, sessions and
the limiter. Only the backend's public methods are called.
"""
