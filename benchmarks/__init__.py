"""The surge benchmark (issue 7): ``manage.py storm`` drives a real stack with open-loop load and live
consoles, and compares its CPU per incident with a bare baseline endpoint of the same server."""
