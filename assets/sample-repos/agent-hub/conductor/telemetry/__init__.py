"""Tracing: spans that follow an event chain through agents, tools and jobs."""
