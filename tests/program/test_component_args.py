"""Every component takes (name, args, opts) with a typed Args class of its own, as Pulumi's components do."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pulumi

import components


def component_classes() -> list[type]:
    found = []
    for module_info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{module_info.name}")
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, pulumi.ComponentResource)
            and value.__module__ == module.__name__
        ]
    return found


def test_every_component_takes_an_args_class_named_after_it():
    classes = component_classes()
    assert len(classes) >= 5
    loose = [
        cls.__name__
        for cls in classes
        if list(inspect.signature(cls.__init__).parameters)[:4] != ["self", "name", "args", "opts"]
        or inspect.signature(cls.__init__).parameters["args"].annotation != f"{cls.__name__}Args"
    ]
    assert loose == []
