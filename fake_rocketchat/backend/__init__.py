"""The stand-in's backend (moto's `models.py`): workspace state and Rocket.Chat's rules, no HTTP.

`state.State` holds everything; the rule mixins (`users`, `rooms`, `roles`, `auth`) and the
server methods (`methods`) raise `errors.MeteorError` like Rocket.Chat's server code. The REST
handlers (`fake_rocketchat.rest`) and the DDP side (`fake_rocketchat.realtime`) call only the
public methods of `State`, so a rule lives in one place and both transports obey it.
"""
