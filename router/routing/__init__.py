"""Routing: where a request goes. Pure decisions, no I/O: the task classifier (and its cache
on disk), the policy that ranks models for a task, the decision from a model name to ordered
candidates, live speed feedback, and the checks on answers."""
