"""Read models that follow the application's notification log with tracking records."""
