"""Frame analysis by a vision model: the port, its OpenAI implementation, and the prompt."""
