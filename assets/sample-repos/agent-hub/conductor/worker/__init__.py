"""The HTTP worker: a job queue in front of the spawner."""
