"""Tools for the people who advise: the consultant's briefing, the works council's AI system check, the
norm rules they use (regeln.yaml) and "Aus allen Blickwinkeln" (one question, three role answers)."""
