"""The formatter against expected outputs written by hand (not produced by the formatter).

The canonical layout: every keyword is padded to 7 columns plus one space, so arguments start
at column 9 (`ceiling` is the longest keyword) except `recipe "NAME"`; single spaces between
arguments; own-line comments start at column 1; a trailing comment follows its statement after
two spaces; runs of blank lines become one, none at the start or the end; LF line endings and
one final newline. tests/cases/format holds the regenerated golden files; these are not.
"""

from __future__ import annotations

import pytest

from recipec.formatter import format_source
from recipec.source import SourceFile

CASES = {
    "header-statements": (
        'recipe   "header"\n'
        'extends "../base.recipe"\n'
        "arch qwen35moe   qwen35\n"
        "base IQ4_XS\n"
        "ladder IQ3_S Q3_K  IQ4_XS Q4_K Q5_K Q6_K Q8_0\n"
        "budget 19.4 GiB\n",
        'recipe "header"\n'
        'extends "../base.recipe"\n'
        "arch    qwen35moe qwen35\n"
        "base    IQ4_XS\n"
        "ladder  IQ3_S Q3_K IQ4_XS Q4_K Q5_K Q6_K Q8_0\n"
        "budget  19.4 GiB\n",
    ),
    "budgets": (
        'recipe "budgets"\n'
        "budget 4.5 bpw\n"
        "budget 512MiB\n"
        "budget fit 24GiB ctx 32768 kv q8_0\n"
        "budget fit 24 GiB ctx 32768 kv q8_0 parallel 2 overhead 1 GiB\n"
        "budget fit 16 GiB ctx 8192 kv f16 overhead 512 MiB\n",
        'recipe "budgets"\n'
        "budget  4.5 bpw\n"
        "budget  512 MiB\n"
        "budget  fit 24 GiB ctx 32768 kv q8_0\n"
        "budget  fit 24 GiB ctx 32768 kv q8_0 parallel 2 overhead 1 GiB\n"
        "budget  fit 16 GiB ctx 8192 kv f16 overhead 512 MiB\n",
    ),
    "bounds-and-selectors": (
        'recipe "bounds"\n'
        "floor ffn_*_exps IQ4_XS\n"
        "floor attn_*   ssm_out Q5_K\n"
        "ceiling ffn_*_exps Q6_K\n"
        "pin output Q8_0\n"
        "pin ffn_down_exps@first  2 Q6_K\n"
        "pin ffn_down@last 4 attn_v@0..3 attn_q@7 Q6_K\n"
        "floor *@mtp nextn.eh_proj Q8_0\n",
        'recipe "bounds"\n'
        "floor   ffn_*_exps IQ4_XS\n"
        "floor   attn_* ssm_out Q5_K\n"
        "ceiling ffn_*_exps Q6_K\n"
        "pin     output Q8_0\n"
        "pin     ffn_down_exps@first 2 Q6_K\n"
        "pin     ffn_down@last 4 attn_v@0..3 attn_q@7 Q6_K\n"
        "floor   *@mtp nextn.eh_proj Q8_0\n",
    ),
    "ties-depth-mtp": (
        'recipe "ties"\n'
        "tie attn_q attn_k   attn_v\n"
        "tie auto\n"
        "depth first 1 x2.0\n"
        "depth last  5 x1.5\n"
        "depth 10..19 x1.2\n"
        "depth 3 x0.5\n"
        "depth mtp x1\n"
        "mtp keep Q6_K outside budget\n"
        "mtp keep Q8_0\n"
        "mtp optimise floor Q5_K\n"
        "mtp optimise\n"
        "mtp drop\n",
        'recipe "ties"\n'
        "tie     attn_q attn_k attn_v\n"
        "tie     auto\n"
        "depth   first 1 x2.0\n"
        "depth   last 5 x1.5\n"
        "depth   10..19 x1.2\n"
        "depth   3 x0.5\n"
        "depth   mtp x1\n"
        "mtp     keep Q6_K outside budget\n"
        "mtp     keep Q8_0\n"
        "mtp     optimise floor Q5_K\n"
        "mtp     optimise\n"
        "mtp     drop\n",
    ),
    "solver-target-serve": (
        'recipe "serve"\n'
        "solver greedy\n"
        "solver optimal\n"
        "target cuda-blackwell\n"
        "serve ctx 32768\n"
        "serve flash-attn on\n"
        "serve cache-type q8_0\n"
        "serve spec mtp 2\n"
        'serve mmproj "mmproj-F16.gguf"\n'
        "serve ngl all\n"
        "serve ngl 99\n",
        'recipe "serve"\n'
        "solver  greedy\n"
        "solver  optimal\n"
        "target  cuda-blackwell\n"
        "serve   ctx 32768\n"
        "serve   flash-attn on\n"
        "serve   cache-type q8_0\n"
        "serve   spec mtp 2\n"
        'serve   mmproj "mmproj-F16.gguf"\n'
        "serve   ngl all\n"
        "serve   ngl 99\n",
    ),
    "comments-own-line-and-trailing": (
        "# heading comment\n"
        'recipe "c"   # the name\n'
        "    # an indented own-line comment\n"
        "base Q4_K_M#glued to the statement\n"
        "ladder Q4_K Q6_K      # two types   \n"
        "# closing comment\n",
        "# heading comment\n"
        'recipe "c"  # the name\n'
        "# an indented own-line comment\n"
        "base    Q4_K_M  #glued to the statement\n"
        "ladder  Q4_K Q6_K  # two types\n"
        "# closing comment\n",
    ),
    "blank-line-runs": (
        "\n\n\n"
        'recipe "blank"\n'
        "\n\n\n\n"
        "base Q4_K_M\n"
        "   \n"
        "\t\n"
        "# after blanks\n"
        "ladder Q4_K Q6_K\n"
        "\n\n",
        'recipe "blank"\n'
        "\n"
        "base    Q4_K_M\n"
        "\n"
        "# after blanks\n"
        "ladder  Q4_K Q6_K\n",
    ),
    "crlf-line-endings": (
        '# windows\r\nrecipe "crlf"\r\n\r\n\r\nbase Q4_K_M  # trailing\r\nladder Q4_K Q6_K\r\n',
        '# windows\nrecipe "crlf"\n\nbase    Q4_K_M  # trailing\nladder  Q4_K Q6_K\n',
    ),
    "tabs": (
        'recipe\t"tabs"\n'
        "\tbase\tQ4_K_M\n"
        "ladder\tQ4_K\t\tQ6_K\n"
        "pin\toutput\tQ8_0\t# tab before the comment\n",
        'recipe "tabs"\n'
        "base    Q4_K_M\n"
        "ladder  Q4_K Q6_K\n"
        "pin     output Q8_0  # tab before the comment\n",
    ),
    "no-final-newline-and-canonical-input-unchanged": (
        'recipe "done"\n'
        "base    Q4_K_M\n"
        "ceiling attn_* Q6_K",
        'recipe "done"\n'
        "base    Q4_K_M\n"
        "ceiling attn_* Q6_K\n",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_handwritten_case(name):
    text, expected = CASES[name]
    assert format_source(SourceFile(f"{name}.recipe", text)) == expected
    # the expected text is canonical: formatting it again changes nothing
    assert format_source(SourceFile(f"{name}.recipe", expected)) == expected


def test_arguments_start_at_column_nine():
    # every keyword padded to the width of `ceiling` plus one space
    out = format_source(SourceFile("k.recipe", 'recipe "k"\nceiling attn_* Q6_K\npin output Q8_0\nmtp drop\n'))
    assert [line.index(line.split()[1]) + 1 for line in out.splitlines()[1:]] == [9, 9, 9]
