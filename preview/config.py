"""`secure:` config values during an offline preview: secret and unknown, never ciphertext.

The CLI decrypts a stack's `secure:` values with the stack's secrets provider before the program
starts; offline there is no key, so a program that reads one as a secret (`require_secret`,
`get_secret`, ...) gets a secret whose value is unknown, as a preview shows it, and a program that
needs the plain value (`require`, `get_int`, ...) gets one clear error naming the key and the
`-c` that supplies it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
from pulumi.config import Config
from pulumi.output import Unknown

from preview.project import StackConfig

SECRET_GETTERS = (
    "get_secret",
    "get_secret_bool",
    "get_secret_int",
    "get_secret_float",
    "get_secret_object",
    "require_secret",
    "require_secret_bool",
    "require_secret_int",
    "require_secret_float",
    "require_secret_object",
)


class SecureValueNeeded(Exception):
    """The program reads a `secure:` value in plain; offline it cannot be decrypted."""


@contextlib.contextmanager
def secure_config(stack_config: StackConfig, project: str) -> Iterator[None]:
    """Patch `pulumi.Config` for the duration of one render when the stack has secure values."""
    if not stack_config.secure_keys:
        yield
        return
    secure = set(stack_config.secure_keys)
    originals: dict[str, Any] = {name: getattr(Config, name) for name in (*SECRET_GETTERS, "_get")}

    def secret_getter(name: str) -> Callable[..., Any]:
        original = originals[name]

        def getter(self: Config, key: str, *args: Any, **kwargs: Any) -> Any:
            if self.full_key(key) in secure:
                return pulumi.Output.secret(Unknown())
            return original(self, key, *args, **kwargs)

        return getter

    def plain_get(self: Config, key: str, *args: Any, **kwargs: Any) -> Any:
        full_key = self.full_key(key)
        if full_key in secure:
            short = full_key.split(":", 1)[1] if full_key.startswith(f"{project}:") else full_key
            raise SecureValueNeeded(
                f"config '{full_key}' is a secure value the offline preview cannot decrypt, and the program "
                f"reads it in plain; read it with require_secret/get_secret, or pass it with -c {short}=VALUE"
            )
        return originals["_get"](self, key, *args, **kwargs)

    try:
        for name in SECRET_GETTERS:
            setattr(Config, name, secret_getter(name))
        Config._get = plain_get  # type: ignore[method-assign]
        yield
    finally:
        for name, original in originals.items():
            setattr(Config, name, original)
