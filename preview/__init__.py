"""The offline twin of `pulumi preview`: project and stack files, mocks, render, policy gate and CLI.

Used by the PR gate where no Pulumi CLI exists, by the live audit (to know what the stack declares)
and by the sandbox (to deploy exactly what the program renders).
"""
