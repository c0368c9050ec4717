"""The live voice tutor: phone audio over a WebSocket, relayed to the OpenAI Realtime API."""
