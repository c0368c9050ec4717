"""Math problems with their answers, generated: what a math page shows is mostly symbols.

Each generator gives (problem, answer) with real, correct numbers: linear and quadratic equations,
simultaneous equations, fractions, powers, derivatives, integrals, 2x2 determinants, percentages.
`unicode` picks printed notation (x², ∫, a minus sign, ·); without it, what a student writes on
paper in ASCII (x^2, int, -, *), for handwriting fonts that lack the signs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _pow(base: str, n: int, unicode: bool) -> str:
    if n == 1:
        return base
    return base + (str(n).translate(_SUP) if unicode else f"^{n}")


def _signs(text: str, unicode: bool) -> str:
    return text.replace(" - ", " \u2212 ").replace("*", "·") if unicode else text


def _coef(a: int | Fraction, term: str) -> str:
    return term if a == 1 else f"{a}{term}"


def linear(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """A linear equation, ax + b = c, solved for x."""
    x, a, b = rng.randint(-9, 12), rng.randint(2, 9), rng.randint(1, 30)
    return _signs(f"{a}x + {b} = {a * x + b}", unicode), f"x = {x}"


def quadratic(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """x² + bx + c = 0 with integer roots."""
    r, s = rng.randint(-8, 8), rng.randint(-8, 8)
    b, c = -(r + s), r * s
    text = f"{_pow('x', 2, unicode)} {'+' if b >= 0 else '-'} {abs(b)}x "
    text += f"{'+' if c >= 0 else '-'} {abs(c)} = 0"
    return _signs(text, unicode), f"x = {r} or x = {s}"


def simultaneous(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """Two linear equations in x and y."""
    x, y = rng.randint(-5, 9), rng.randint(-5, 9)
    a, b = rng.randint(1, 5), rng.randint(1, 5)
    return _signs(f"{a}x + {b}y = {a * x + b * y},  x - y = {x - y}", unicode), f"x = {x}, y = {y}"


def fractions(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """A sum or product of two fractions, in lowest terms."""
    p = Fraction(rng.randint(1, 9), rng.randint(2, 12))
    q = Fraction(rng.randint(1, 9), rng.randint(2, 12))
    if rng.random() < 0.5:
        return f"{p} + {q} =", f"{p + q}"
    return _signs(f"{p} * {q} =", unicode), f"{p * q}"


def powers(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """The product rule for powers."""
    m, n = rng.randint(2, 7), rng.randint(2, 7)
    base = rng.choice(["2", "3", "a", "x"])
    problem = _signs(f"{_pow(base, m, unicode)} * {_pow(base, n, unicode)} =", unicode)
    return problem, _pow(base, m + n, unicode)


def derivative(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """d/dx of a x^n + b x."""
    a, n, b = rng.randint(2, 9), rng.randint(2, 5), rng.randint(1, 9)
    f = f"f(x) = {_coef(a, _pow('x', n, unicode))} + {b}x"
    return f, f"f'(x) = {_coef(a * n, _pow('x', n - 1, unicode))} + {b}"


def integral(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """The integral of a x^n dx."""
    n = rng.randint(1, 4)
    a = (n + 1) * rng.randint(1, 4)
    sign = "∫" if unicode else "int"
    answer = f"{_coef(Fraction(a, n + 1), _pow('x', n + 1, unicode))} + C"
    return f"{sign} {_coef(a, _pow('x', n, unicode))} dx =", answer


def determinant(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """The determinant of a 2x2 matrix, written in rows."""
    a, b, c, d = (rng.randint(-6, 9) for _ in range(4))
    return f"det [{a} {b}; {c} {d}] =", f"{a * d - b * c}"


def percentage(rng: random.Random, unicode: bool) -> tuple[str, str]:
    """A percentage of an amount."""
    p, amount = rng.choice([5, 10, 15, 20, 25, 40, 75]), rng.randint(2, 40) * 20
    return f"{p}% of {amount} =", f"{p * amount // 100}"


#: A problem generator: (rng, unicode) -> (problem, answer).
Generator = Callable[[random.Random, bool], tuple[str, str]]
GENERATORS: tuple[Generator, ...] = (
    linear,
    quadratic,
    simultaneous,
    fractions,
    powers,
    derivative,
    integral,
    determinant,
    percentage,
)


def problem(rng: random.Random, *, unicode: bool) -> tuple[str, str]:
    """One problem of a random kind, and its answer."""
    return rng.choice(GENERATORS)(rng, unicode)
