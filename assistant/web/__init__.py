"""The app factory, routers, request dependencies and the rate limit."""
