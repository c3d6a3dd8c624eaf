"""L011 unknown-role: a selector names a role that no known architecture has.

Bad:
    floor attn_qq Q5_K

Good:
    floor attn_q Q5_K
"""

from recipec import ast
from recipec.checks.common import LintContext, known_roles, role_matches
from recipec.diagnostics import Diagnostic, did_you_mean

CODE = "L011"
NAME = "unknown-role"


def _roles_written(ctx: LintContext):
    for b in ctx.recipe.bounds:
        for s in b.selectors:
            yield s.role, s.span
    for s in ctx.statements:
        if isinstance(s, ast.Tie) and not s.auto:
            for w in s.roles:
                yield w.text, w.span


def check(ctx: LintContext):
    roles = known_roles()
    known: dict[str, bool] = {}  # role text -> names a known role (asked once per text, not per line)
    for role, span in _roles_written(ctx):
        if role not in known:
            known[role] = role in roles or any(role_matches(role, r) for r in roles)
        if known[role]:
            continue
        guess = did_you_mean(role, roles)
        yield Diagnostic(CODE, f"no known architecture has a tensor role matching `{role}`", span,
                         hint=f"did you mean `{guess}`?" if guess else "a role is a tensor name without blk.N. and .weight")
