"""User interfaces: the embeddable widget (static files) and the Gradio tutor app."""
