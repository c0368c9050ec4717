"""What the edge daemon and the cloud API must agree on: wire models, topics, time format."""
