"""Training for every task: the loop (loop.py), the task contract (task.py), settings (config.py),
schedules, run folders and checkpoints, reports, and the tasks themselves (text.py, ...)."""
