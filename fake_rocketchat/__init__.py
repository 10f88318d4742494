"""A stand-in Rocket.Chat, built in moto's layers (see docs/fake-rocketchat.md, "Layout").

`backend` holds the workspace and Rocket.Chat's rules (no HTTP); `rest` and `realtime` are the two
transports over it, calling only its public methods; `harness` runs and steers it for tests, the
demo and `python -m fake_rocketchat`.
"""
