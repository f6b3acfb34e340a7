"""``shopguide local serve``: the local model as one OpenAI-compatible server that every web worker shares."""
