"""Blocks and composition, the extractive and the LLM answerer, follow-ups, the decline decision, prompt loading."""
