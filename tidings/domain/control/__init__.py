"""Control is structural: causal chains and the loop breaker, global send policies (pure)."""

#: the settings rows (``app_state`` keys) of the send policy document and of the kill switch.
POLICY_KEY = "control.policy"
SENDING_KEY = "control.sending"
