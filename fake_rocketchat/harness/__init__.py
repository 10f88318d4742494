"""What runs the stand-in and lets tests steer it (moto's `mock_*`, server mode and fault hooks).

`app.create_app` wires REST (`/api`), DDP (`/websocket`) and the control API (`/_fake`, `control`)
around a backend `State`; `faults` injects failures and logs requests; `server_thread` serves the
app under uvicorn with a pausable listener; `testing` starts servers for tests, `pytest_plugin`
wraps that as fixtures, and `cli` is the body of `python -m fake_rocketchat`.
"""
