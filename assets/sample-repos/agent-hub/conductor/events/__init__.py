"""The event model and the in-process bus agents talk over."""
