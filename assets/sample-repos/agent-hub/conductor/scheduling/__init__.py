"""Scheduled work: cron expressions and the scheduler that publishes due jobs on the bus."""
