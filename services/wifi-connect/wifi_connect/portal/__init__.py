"""The policy: wifi-connect's lifecycle as a state machine over injected ports."""
