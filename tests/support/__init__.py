"""Real servers on loopback for tests: a scriptable upstream and the gateway itself."""
