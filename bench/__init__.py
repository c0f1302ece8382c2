"""``make bench``: Footage's benchmark harness. It measures and records; it asserts nothing."""
