"""The measures both sides answer: real measures of seed/policies/*.toml, each condition and
amount formula written by hand as SQL beside the rule it translates.

huiqi gets the measure as the policy file states it (read from the TOML at run time); the
expressions below are compared with the file's, so a policy edited after this SQL was written
stops the run instead of comparing two different questions.

How the rule language maps to SQL (README "The rules language", src/rules/eval.rs):

* A condition on a missing field is unknown (NULL), not false; `&&`, `||`, `!` are SQL's
  three-valued AND, OR, NOT; `x in [..]` is SQL's IN (NULL when x is NULL).
* `c ? a : b` is NULL when c is unknown: CASE WHEN c THEN a WHEN NOT c THEN b END (no ELSE).
* `min(a, b)` is NULL when either is NULL (DuckDB's least() skips NULLs): kmin(a, b).
* `region.within("2301")` is a prefix of the six-digit code, trailing "00" pairs dropped;
  `industry.within("C39")` a prefix of the industry code.
* `tags.contains("k")` is never unknown: the entity holds k in force on the evaluation date
  (granted on or before it, not expired before it); `tag_since("k")` is that holding's date,
  NULL when not held. The load flattens each key's holding into three columns
  (tag_<k>_held, tag_<k>_since, tag_<k>_until; it refuses a file holding a key twice) and the
  macros in_force / since_in_force read them with the evaluation date.
* Derived percentages compared with a number are decided exactly, by cross-multiplication of
  the money values, the sides swapped when the denominator is negative (src/rules/ratio.rs):
  rd_ratio = rd_expense / revenue * 100 (NULL when revenue is NULL or 0),
  revenue_growth = (revenue - revenue_prev) / revenue_prev * 100 (NULL when revenue_prev is
  NULL or 0); the macros pct_ge and growth_ge.
* Money is DECIMAL(18,6) 万元 (exactly the fen); an amount is computed in DECIMAL, rounded
  half up to the fen per entity, then capped (see side_by_side.py, fen_sql).
* Near miss: exactly one condition false, all others true (none unknown), and the false one
  does not fail on who the entity is — a top-level `&&` part reading only identity fields
  (type, ownership, status, region, industry, established, age) that is false. `identity`
  lists those parts as SQL ("all": the whole condition reads only identity fields).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Cond:
    expr: str  # the rule, exactly as in the policy file
    sql: str  # the same condition in SQL (three-valued)
    identity: object = ()  # "all", or the SQL of the top-level && parts reading identity fields


@dataclass(frozen=True)
class Measure:
    key: str  # short ASCII name for the table and the JSON
    policy: str  # seed/policies/<policy>.toml
    name: str  # the measure's name in that file
    shape: str  # why it is in the set
    conditions: tuple
    amount_expr: object = None  # the file's amount formula (None: no formula)
    amount_sql: object = None  # the same in SQL, in 万元, DECIMAL


def R(prefix):
    """region.within(prefix)."""
    return f"starts_with(region, '{prefix}')"


def I(prefix):
    """industry.within(prefix)."""
    return f"starts_with(industry, '{prefix}')"


def HAS(key):
    """tags.contains(key): the holding of key is in force on the evaluation date."""
    return f"in_force(tag_{key}_held, tag_{key}_since, tag_{key}_until)"


def SINCE(key):
    """tag_since(key): its date when in force, NULL otherwise."""
    return f"since_in_force(tag_{key}_held, tag_{key}_since, tag_{key}_until)"


def tag_after(key, day):
    return f"({HAS(key)} AND {SINCE(key)} >= DATE '{day}')"


def tag_after_expr(key, day):
    return f'tags.contains("{key}") && tag_since("{key}") >= date("{day}")'


REGION_23_ENTERPRISE = Cond(
    'region.within("23") && entity_type == "enterprise"',
    f"({R('23')} AND entity_type = 'enterprise')",
    "all",
)
CLEAN = Cond(
    "!dishonest && !major_violation",
    "(NOT dishonest AND NOT major_violation)",
)
NOT_DISHONEST = Cond("!dishonest", "(NOT dishonest)")

MEASURES = (
    Measure(
        key="stabilize_jobs",
        policy="national-ui-stabilize-jobs-2026",
        name="失业保险稳岗返还",
        shape="稳岗返还: broad; nested || over unknown fields; amount a ternary on size",
        conditions=(
            Cond('region.within("23")', R("23"), "all"),
            Cond("ui_premium_paid > 0", "(ui_premium_paid > 0)"),
            Cond(
                "layoff_rate <= 5.5 || (employees <= 30 && layoff_rate <= 20)",
                "(layoff_rate <= 5.5 OR (employees <= 30 AND layoff_rate <= 20))",
            ),
            Cond('status == "active"', "(status = 'active')", "all"),
            NOT_DISHONEST,
        ),
        amount_expr='size_class == "large" ? ui_premium_paid * 0.3 : ui_premium_paid * 0.6',
        amount_sql="CASE WHEN size_class = 'large' THEN ui_premium_paid * 0.3 "
        "WHEN NOT (size_class = 'large') THEN ui_premium_paid * 0.6 END",
    ),
    Measure(
        key="six_taxes",
        policy="national-small-micro-tax-2023",
        name="小型微利企业、个体工商户“六税两费”减半征收",
        shape="broadest: most of the library; || over unknown employees/assets; no amount",
        conditions=(
            Cond('status == "active"', "(status = 'active')", "all"),
            Cond(
                'entity_type == "individual" || (employees <= 300 && total_assets <= 5000)',
                "(entity_type = 'individual' OR (employees <= 300 AND total_assets <= 5000))",
            ),
        ),
    ),
    Measure(
        key="rd_deduction",
        policy="hlj-tech-innovation-2024",
        name="研发费用税前加计扣除",
        shape="broad over enterprises with R&D; a negated || of six industry prefixes",
        conditions=(
            Cond('entity_type == "enterprise"', "(entity_type = 'enterprise')", "all"),
            Cond("rd_expense > 0", "(rd_expense > 0)"),
            Cond(
                '!(industry.within("C16") || industry.within("H") || industry.within("F") || '
                'industry.within("K") || industry.within("L") || industry.within("R90"))',
                f"(NOT ({I('C16')} OR {I('H')} OR {I('F')} OR {I('K')} OR {I('L')} OR {I('R90')}))",
                "all",
            ),
        ),
    ),
    Measure(
        key="rd_subsidy",
        policy="hlj-tech-innovation-2024",
        name="科技型中小企业研发费用补助",
        shape="tag + money threshold + derived ratio (rd_ratio); min() amount, cap",
        conditions=(
            REGION_23_ENTERPRISE,
            Cond('tags.contains("tech_sme")', HAS("tech_sme")),
            Cond("rd_expense >= 50", "(rd_expense >= 50)"),
            Cond(
                "rd_ratio >= 3",
                "pct_ge(rd_expense, revenue, 3)",
            ),
            CLEAN,
        ),
        amount_expr="min(rd_expense * 0.05, 50)",
        amount_sql="kmin(rd_expense * 0.05, 50)",
    ),
    Measure(
        key="rd_increment",
        policy="hlj-tech-innovation-2024",
        name="高新技术企业研发投入增量奖励",
        shape="研发增量: two money fields compared; amount on their difference",
        conditions=(
            REGION_23_ENTERPRISE,
            Cond('tags.contains("high_tech")', HAS("high_tech")),
            Cond("rd_expense > rd_expense_prev", "(rd_expense > rd_expense_prev)"),
            CLEAN,
        ),
        amount_expr="min((rd_expense - rd_expense_prev) * 0.1, 100)",
        amount_sql="kmin((rd_expense - rd_expense_prev) * 0.1, 100)",
    ),
    Measure(
        key="gazelle",
        policy="hlj-tech-innovation-2024",
        name="瞪羚企业奖励",
        shape="tag + derived growth rate (revenue_growth); fixed amount",
        conditions=(
            REGION_23_ENTERPRISE,
            Cond('tags.contains("gazelle")', HAS("gazelle")),
            Cond("revenue_growth >= 20", "growth_ge(revenue, revenue_prev, 20)"),
            CLEAN,
        ),
        amount_expr="50",
        amount_sql="50",
    ),
    Measure(
        key="high_tech_award",
        policy="harbin-tech-innovation-2025",
        name="高新技术企业首次认定奖励",
        shape="高企奖励: one city; tag granted after a date",
        conditions=(
            Cond(
                'region.within("2301") && entity_type == "enterprise"',
                f"({R('2301')} AND entity_type = 'enterprise')",
                "all",
            ),
            Cond(tag_after_expr("high_tech", "2025-01-01"), tag_after("high_tech", "2025-01-01")),
            Cond('status == "active"', "(status = 'active')", "all"),
            NOT_DISHONEST,
        ),
        amount_expr="30",
        amount_sql="30",
    ),
    Measure(
        key="little_giant",
        policy="hlj-srdi-sme-2025",
        name="国家级专精特新“小巨人”企业奖励",
        shape="小巨人: the narrowest (a rare tag granted after a date)",
        conditions=(
            REGION_23_ENTERPRISE,
            Cond(tag_after_expr("little_giant", "2025-01-01"), tag_after("little_giant", "2025-01-01")),
            NOT_DISHONEST,
            Cond("!major_violation", "(NOT major_violation)"),
        ),
        amount_expr="50",
        amount_sql="50",
    ),
    Measure(
        key="export_award",
        policy="hlj-foreign-trade-2025",
        name="外贸出口规模奖励",
        shape="narrow: tag + export threshold + enum in list (unknown grades); min() amount",
        conditions=(
            Cond(
                'region.within("23") && tags.contains("foreign_trade")',
                f"({R('23')} AND {HAS('foreign_trade')})",
                (R("23"),),
            ),
            Cond("export_value >= 500", "(export_value >= 500)"),
            Cond('tax_credit in ["A", "B", "M"]', "(tax_credit IN ('A', 'B', 'M'))"),
            NOT_DISHONEST,
        ),
        amount_expr="min(export_value * 0.01, 50)",
        amount_sql="kmin(export_value * 0.01, 50)",
    ),
    Measure(
        key="utilities",
        policy="binxian-individual-relief-2026",
        name="服务业经营主体水电气费补贴",
        shape="one county; || of (&& with in) over unknown size; ternary amount",
        conditions=(
            Cond('region.within("230125")', R("230125"), "all"),
            Cond(
                'entity_type == "individual" || (entity_type == "enterprise" && size_class in ["small", "micro"])',
                "(entity_type = 'individual' OR (entity_type = 'enterprise' AND size_class IN ('small', 'micro')))",
            ),
            Cond(
                'industry.within("F") || industry.within("H") || industry.within("O80")',
                f"({I('F')} OR {I('H')} OR {I('O80')})",
                "all",
            ),
            Cond('status == "active"', "(status = 'active')", "all"),
        ),
        amount_expr='entity_type == "individual" ? 0.1 : 0.3',
        amount_sql="CASE WHEN entity_type = 'individual' THEN 0.1 WHEN NOT (entity_type = 'individual') THEN 0.3 END",
    ),
    Measure(
        key="revenue_leap",
        policy="daqing-industry-growth-2025",
        name="工业企业营收跨越奖励",
        shape="one city; || of two && pairs; ternary amount on an && ",
        conditions=(
            Cond(
                'region.within("2306") && entity_type == "enterprise"',
                f"({R('2306')} AND entity_type = 'enterprise')",
                "all",
            ),
            Cond(
                'tags.contains("above_scale") && (industry.within("B") || industry.within("C") || industry.within("D"))',
                f"({HAS('above_scale')} AND ({I('B')} OR {I('C')} OR {I('D')}))",
                (f"({I('B')} OR {I('C')} OR {I('D')})",),
            ),
            Cond(
                "(revenue >= 10000 && revenue_prev < 10000) || (revenue >= 100000 && revenue_prev < 100000)",
                "((revenue >= 10000 AND revenue_prev < 10000) OR (revenue >= 100000 AND revenue_prev < 100000))",
            ),
            CLEAN,
        ),
        amount_expr="revenue >= 100000 && revenue_prev < 100000 ? 50 : 20",
        amount_sql="CASE WHEN (revenue >= 100000 AND revenue_prev < 100000) THEN 50 "
        "WHEN NOT (revenue >= 100000 AND revenue_prev < 100000) THEN 20 END",
    ),
    Measure(
        key="contribution",
        policy="shangzhi-investment-2025",
        name="新引进企业经济发展贡献奖励",
        shape="one county; founding date, negated industries, tax threshold; min() amount",
        conditions=(
            Cond(
                'region.within("230183") && entity_type == "enterprise"',
                f"({R('230183')} AND entity_type = 'enterprise')",
                "all",
            ),
            Cond('established >= date("2024-01-01")', "(established >= DATE '2024-01-01')", "all"),
            Cond(
                '!(industry.within("K") || industry.within("F52"))',
                f"(NOT ({I('K')} OR {I('F52')}))",
                "all",
            ),
            Cond("tax_paid >= 100", "(tax_paid >= 100)"),
            Cond('tax_credit in ["A", "B"]', "(tax_credit IN ('A', 'B'))"),
            Cond("!major_violation", "(NOT major_violation)"),
        ),
        amount_expr="min(tax_paid * 0.2, 300)",
        amount_sql="kmin(tax_paid * 0.2, 300)",
    ),
)


# Tag keys flattened into columns at load (tag_<key>_held, _since, _until): the dictionary's.
TAG_KEYS = (
    "above_scale", "foreign_trade", "tech_sme", "high_tech", "gazelle",
    "innovative_sme", "srdi_sme", "agri_leader", "listed", "little_giant",
)


def macros_sql(as_of):
    """The helper macros, with the evaluation date baked in."""
    d = f"DATE '{as_of}'"
    return [
        f"CREATE OR REPLACE MACRO in_force(h, s, u) AS h AND (s IS NULL OR s <= {d}) AND (u IS NULL OR u >= {d})",
        "CREATE OR REPLACE MACRO since_in_force(h, s, u) AS CASE WHEN in_force(h, s, u) THEN s END",
        "CREATE OR REPLACE MACRO kmin(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END",
        # n / d * 100 >= x, exactly: n * 100 >= x * d, the sides swapped when d < 0; NULL when
        # n or d is NULL or d is 0.
        "CREATE OR REPLACE MACRO pct_ge(n, d, x) AS CASE WHEN d = 0 THEN NULL "
        "WHEN d > 0 THEN n * 100 >= x * d ELSE n * 100 <= x * d END",
        # revenue_growth >= x: (r - p) / p * 100 >= x.
        "CREATE OR REPLACE MACRO growth_ge(r, p, x) AS pct_ge(r - p, p, x)",
    ]
