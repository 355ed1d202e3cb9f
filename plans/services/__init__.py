"""Response plans' services: publishing plans (``publishing``), activating them and their department tasks
(``activations``), and warnings received as CAP 1.2 (``cap``)."""
