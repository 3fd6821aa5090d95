"""The static safety stage against every route from design code to the interpreter, the OS or code
built from strings (issue #13), and against ordinary model code that must keep passing."""

from __future__ import annotations

import textwrap

import pytest

from verifier.core.checker import CheckConfig
from verifier.core.checker.static_checks import static_findings
from verifier.core.gau import GAUNode, GAUTree

UNIT = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
{imports}

from verifier.core.gau.base import GAUBase


class Block(GAUBase):
    """A test unit."""

    def __init__(self, embed_dim, block_loc, kwarg_all, device=None, dtype=None, **kwargs):
        super().__init__(embed_dim, block_loc, kwarg_all)
        self.proj = nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype)
        for i in range(2):
            setattr(self, f"layer_{{i}}", nn.Linear(embed_dim, embed_dim, device=device, dtype=dtype))

    def _forward(self, X, **Z):
{body}
'''


def errors(body: str, imports: str = "") -> list[str]:
    code = UNIT.format(imports=imports, body=textwrap.indent(textwrap.dedent(body).strip(), " " * 8))
    tree = GAUTree(name="t", root="Block", units={"Block": GAUNode("Block", code)})
    return [f"{f.category}: {f.message}" for f in static_findings(tree, CheckConfig()) if f.severity == "error"]


ORDINARY = [
    ("", "return self.layer_0(X) + getattr(self, f'layer_{1}')(X)"),
    ("", "for i in range(2):\n    X = getattr(self, f'layer_{i}')(X)\nreturn X"),
    ("", "for name in ('proj', 'layer_0'):\n    X = getattr(self, name)(X)\nreturn X"),
    ("", "name = 'pr' + 'oj'\nreturn getattr(self, name)(X)"),
    ("", "return getattr(F, 'ge' + 'lu')(X)"),  # folds to F.gelu
    ("", "return X if hasattr(self, 'missing') else self.proj(X)"),
    ("", "return getattr(self, 'proj', None)(X)"),
    ("", "assert X.dim() == 3, 'expected {} dims'.format(3)\nreturn X"),
    ("", "msg = 'shape {}'\nassert X.dim() == 3, msg.format(X.shape)\nreturn X"),
    ("", "print(f'{type(self).__name__}: {X.shape}')\nreturn X"),
    ("", "print(self.__class__.__name__)\nreturn X"),
    ("import random", "return X * random.random()"),
    ("from collections import OrderedDict", "d = OrderedDict(a=1)\nreturn X * d['a']"),
    ("import operator", "return operator.add(X, X)"),
    ("", "if torch.cuda.is_available():\n    X = X * 1.0\nreturn X"),
    ("", "for m in self.modules():\n    pass\nreturn X.select(1, 0).unsqueeze(1).expand_as(X)"),
    ("", "self.code = 1\nreturn X"),
    ("from torch import Tensor", "return X"),
]


@pytest.mark.parametrize(("imports", "body"), ORDINARY)
def test_ordinary_code_passes(imports, body):
    assert errors(body, imports) == []


ROUTES = {
    # computed attribute names on any object
    "getattr_concat_dunder": ("", 'g = getattr(self._forward, "_" + "_globals__")\nreturn X'),
    "getattr_issue_example": (
        "",
        'getattr(self._forward, "_" + "_globals__")["_" + "_builtins__"]["__import__"]("os")\nreturn X',
    ),
    "getattr_variable_dunder": ("", 'n = "_" + "_class__" + "es"\nn = "__code__"\ngetattr(self, n)\nreturn X'),
    "getattr_join": ("", 'getattr(self, "".join(["_", "_dict__"]))\nreturn X'),
    "getattr_bytes": ("", "getattr(self, bytes([95, 95]).decode() + 'x')\nreturn X"),
    "getattr_argument": ("", "return getattr(self, Z.get('name'))(X)"),
    "getattr_fstring_underscore": ("", 'getattr(self, f"_{X.dim()}_")\nreturn X'),
    "getattr_fstring_prefix_of_forbidden": ("", 'getattr(self, f"f_{X.dim()}")\nreturn X'),
    "setattr_dunder": ("", 'setattr(self, "__class__", object)\nreturn X'),
    "delattr_computed": ("", "delattr(self, str(X.dim()))\nreturn X"),
    "hasattr_dunder": ("", 'hasattr(self, "__globals__")\nreturn X'),
    "getattr_as_value": ("import functools", 'functools.reduce(getattr, ["_forward"], self)\nreturn X'),
    "getattr_renamed": ("", "g = getattr\nreturn g(self, 'proj')(X)"),
    # namespaces and attribute getters
    "vars": ("", "vars(self)\nreturn X"),
    "dunder_dict": ("", "self.__dict__\nreturn X"),
    "attrgetter": ("import operator", "operator.attrgetter('proj')(self)\nreturn X"),
    "methodcaller": ("from operator import methodcaller", "return X"),
    "globals": ("", "globals()\nreturn X"),
    "locals": ("", "locals()\nreturn X"),
    "builtins_name": ("", "__builtins__\nreturn X"),
    "dunder_name": ("", "__build_class__\nreturn X"),
    # interpreter internals by attribute
    "subclasses": ("", "().__class__.__base__.__subclasses__()\nreturn X"),
    "code": ("", "self._forward.__code__\nreturn X"),
    "gi_frame": ("", "(x for x in []).gi_frame\nreturn X"),
    "f_back": ("", "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_back\nreturn X"),
    "reduce_method": ("", "self.__reduce__()\nreturn X"),
    "random_os": ("import random", "random._os.system('true')\nreturn X"),
    "collections_sys": ("import collections", "collections._sys.modules\nreturn X"),
    "torch_os_import": ("from torch import os", "return X"),
    "logging_os": ("import logging", "logging.os.getcwd()\nreturn X"),
    "random_urandom": ("import random", "random._urandom(4)\nreturn X"),  # os.urandom, re-exported
    "re_copyreg": ("import re", "re.copyreg\nreturn X"),
    "typing_types": ("import typing", "typing.types.FunctionType\nreturn X"),
    # code from strings
    "eval": ("", "eval('1')\nreturn X"),
    "exec": ("", "exec('1')\nreturn X"),
    "compile": ("", "compile('1', 'x', 'eval')\nreturn X"),
    "type_hints": ("import typing", "typing.get_type_hints(self)\nreturn X"),
    "breakpoint": ("", "breakpoint()\nreturn X"),
    "open": ("", "open('/etc/passwd')\nreturn X"),
    # forbidden modules
    "importlib": ("import importlib", "return X"),
    "ctypes": ("import ctypes", "return X"),
    "pickle": ("import pickle", "return X"),
    "marshal": ("import marshal", "return X"),
    # format strings
    "format_dunder": ("", "'{0.__class__}'.format(self)\nreturn X"),
    "format_item_dunder": ("", "'{0[__builtins__]}'.format({})\nreturn X"),
    "format_computed_template": ("", "('{0.' + '_' + '_init__}').format(self)\nreturn X"),
    "format_runtime_template": ("", "t = Z.get('t')\nt.format(self)\nreturn X"),
    "str_format_unbound": ("", "str.format('{0.__class__}', self)\nreturn X"),
    "format_map": ("", "Z['t'].format_map({'x': self})\nreturn X"),
    "string_formatter": ("import string", "string.Formatter().get_field('0', [self], {})\nreturn X"),
    "define_reduce": ("", "return X"),  # replaced below: a method definition
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_route_is_rejected(route):
    imports, body = ROUTES[route]
    if route == "define_reduce":
        body = "def __reduce__():\n    return (print, ('x',))\nreturn X"
    found = errors(body, imports)
    assert found, f"{route} passed the static stage"
    assert all(f.split(":")[0] in ("sandbox-violation", "forbidden-import") for f in found), found


def test_the_message_says_how_to_write_it_instead():
    (message,) = errors("return getattr(self, Z.get('name'))(X)")
    assert "built at run time" in message and "nn.ModuleDict" in message


def test_a_literal_prefix_that_starts_a_forbidden_name_is_not_enough():
    # "sys" starts with "s", "f_globals" with "f_": neither prefix rules them out.
    assert errors('getattr(self, "s" + str(X.dim()))\nreturn X')
    assert errors('getattr(self, "f_" + str(X.dim()))\nreturn X')
    assert errors('getattr(self, "lay" + str(X.dim()) + "er_x")\nreturn X') == []
