//! Parsing with the `cel` crate's parser, then lowering its tree into huiqi's subset. Anything
//! outside the subset is refused with its position.

use cel::common::ast::{Expr as CelExpr, IdedExpr, LiteralValue, SourceInfo};
use cel::parser::Parser;

use super::RuleError;
use super::ast::{BinOp, Expr, Func, Kind, Span};
use super::catalog;

/// `has(x)` on a plain identifier is not valid standard CEL (the `has` macro wants `a.b`), so
/// the text is rewritten to call an ordinary function of the same length before parsing.
const HAS_ALIAS: &str = "HAS";

fn rewrite_has(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.');
        if starts_word && chars[i..].starts_with(&['h', 'a', 's']) {
            let mut j = i + 3;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == '(' {
                out.push_str(HAS_ALIAS);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Character offset of a 1-based line and column.
fn offset_of(src: &str, line: isize, col: isize) -> usize {
    let mut offset = 0usize;
    for (n, text) in src.split('\n').enumerate() {
        if n as isize + 1 == line {
            return offset + (col.max(1) as usize - 1).min(text.chars().count());
        }
        offset += text.chars().count() + 1;
    }
    src.chars().count()
}

struct Lower<'a> {
    info: &'a SourceInfo,
    len: usize,
    /// The parsed text, whose byte offsets the parser reports.
    text: &'a str,
}

impl Lower<'_> {
    /// Character offset of a byte offset into the text.
    fn chars_before(&self, byte: isize) -> usize {
        let byte = usize::try_from(byte).unwrap_or(0).min(self.text.len());
        self.text.char_indices().take_while(|(i, _)| *i < byte).count()
    }

    fn span(&self, e: &IdedExpr) -> Span {
        match self.info.offset_for(e.id) {
            Some((s, t)) => {
                let start = self.chars_before(s as isize).min(self.len);
                (start, (self.chars_before(t as isize) + 1).min(self.len).max(start))
            }
            None => (0, self.len),
        }
    }

    fn err(&self, e: &IdedExpr, zh: String, en: String) -> RuleError {
        let (start, end) = self.span(e);
        RuleError::new(start, end, zh, en)
    }

    fn lower(&self, e: &IdedExpr) -> Result<Expr, RuleError> {
        let span = self.span(e);
        let kind = match &e.expr {
            CelExpr::Literal(lit) => match lit {
                LiteralValue::Null => Kind::Null,
                LiteralValue::Boolean(b) => Kind::Bool(*b.inner()),
                LiteralValue::Int(i) => Kind::Int(*i.inner()),
                LiteralValue::Double(d) => Kind::Double(*d.inner()),
                LiteralValue::String(s) => Kind::Str(s.inner().to_string()),
                LiteralValue::UInt(u) => match i64::try_from(*u.inner()) {
                    Ok(i) => Kind::Int(i),
                    Err(_) => return Err(self.err(e, out_of_range_zh(), OUT_OF_RANGE_EN.into())),
                },
                LiteralValue::Bytes(_) => {
                    return Err(self.err(e, "不支持字节串字面量".into(), "bytes literals are not supported".into()));
                }
            },
            CelExpr::Ident(name) => match catalog::resolve(name) {
                Ok(field) => Kind::Field(field),
                Err(e2) => return Err(self.err(e, e2.0, e2.1)),
            },
            CelExpr::List(list) => Kind::List(list.elements.iter().map(|x| self.lower(x)).collect::<Result<_, _>>()?),
            CelExpr::Call(call) => return self.call(e, span, &call.func_name, call.target.as_deref(), &call.args),
            CelExpr::Select(sel) => {
                let what = format!("{}.{}", describe(&sel.operand), sel.field);
                return Err(self.err(
                    e,
                    format!("不支持字段访问「{what}」：字段名直接书写，例如 revenue、tags"),
                    format!("field selection `{what}` is not supported; write field names directly"),
                ));
            }
            CelExpr::Comprehension(_) => {
                return Err(self.err(
                    e,
                    "不支持 all/exists/map/filter 等宏；资质请用 tags.contains(\"键\")".into(),
                    "macros such as all/exists/map/filter are not supported; use tags.contains(\"key\")".into(),
                ));
            }
            CelExpr::Map(_) | CelExpr::Struct(_) => {
                return Err(self.err(
                    e,
                    "不支持映射或结构体字面量".into(),
                    "map and struct literals are not supported".into(),
                ));
            }
            CelExpr::Unspecified => {
                return Err(self.err(e, "表达式不完整".into(), "incomplete expression".into()));
            }
        };
        Ok(Expr::new(kind, span))
    }

    fn call(
        &self,
        e: &IdedExpr,
        span: Span,
        name: &str,
        target: Option<&IdedExpr>,
        args: &[IdedExpr],
    ) -> Result<Expr, RuleError> {
        let binary = |op: BinOp| -> Result<Expr, RuleError> {
            let [a, b] = args else {
                return Err(self.err(e, "运算数个数不对".into(), "wrong operand count".into()));
            };
            Ok(Expr::new(Kind::Binary(op, Box::new(self.lower(a)?), Box::new(self.lower(b)?)), span))
        };
        use cel::common::ast::operators as op;
        match name {
            op::ADD => return binary(BinOp::Add),
            op::SUBSTRACT => return binary(BinOp::Sub),
            op::MULTIPLY => return binary(BinOp::Mul),
            op::DIVIDE => return binary(BinOp::Div),
            op::EQUALS => return binary(BinOp::Eq),
            op::NOT_EQUALS => return binary(BinOp::Ne),
            op::LESS => return binary(BinOp::Lt),
            op::LESS_EQUALS => return binary(BinOp::Le),
            op::GREATER => return binary(BinOp::Gt),
            op::GREATER_EQUALS => return binary(BinOp::Ge),
            op::LOGICAL_AND => return binary(BinOp::And),
            op::LOGICAL_OR => return binary(BinOp::Or),
            op::IN => return binary(BinOp::In),
            op::LOGICAL_NOT | op::NEGATE => {
                let [a] = args else {
                    return Err(self.err(e, "运算数个数不对".into(), "wrong operand count".into()));
                };
                let inner = Box::new(self.lower(a)?);
                let kind = if name == op::LOGICAL_NOT { Kind::Not(inner) } else { Kind::Neg(inner) };
                return Ok(Expr::new(kind, span));
            }
            op::CONDITIONAL => {
                let [c, a, b] = args else {
                    return Err(self.err(e, "条件表达式不完整".into(), "incomplete conditional".into()));
                };
                return Ok(Expr::new(
                    Kind::Cond(Box::new(self.lower(c)?), Box::new(self.lower(a)?), Box::new(self.lower(b)?)),
                    span,
                ));
            }
            op::MODULO => {
                return Err(self.err(e, "不支持取余运算 %".into(), "the % operator is not supported".into()));
            }
            op::INDEX | op::OPT_INDEX | op::OPT_SELECT => {
                return Err(self.err(e, "不支持下标访问".into(), "indexing is not supported".into()));
            }
            _ => {}
        }
        let fname = if name == HAS_ALIAS { "has" } else { name };
        let Some(func) = Func::by_name(fname, target.is_some()) else {
            let shown = match target {
                Some(t) => format!("{}.{fname}()", describe(t)),
                None => format!("{fname}()"),
            };
            return Err(self.err(
                e,
                format!(
                    "不支持的函数「{shown}」。可用：min、max、round、floor、ceil、abs、date、today、tag_since、tag_until、has，以及 字段.within(\"代码\")、tags.contains(\"标签\")"
                ),
                format!(
                    "unsupported function `{shown}`; available: min, max, round, floor, ceil, abs, date, today, tag_since, tag_until, has, field.within(\"code\"), tags.contains(\"tag\")"
                ),
            ));
        };
        let mut lowered = Vec::with_capacity(args.len() + 1);
        if let Some(t) = target {
            lowered.push(self.lower(t)?);
        }
        for a in args {
            lowered.push(self.lower(a)?);
        }
        Ok(Expr::new(Kind::Call(func, lowered), span))
    }
}

fn describe(e: &IdedExpr) -> String {
    match &e.expr {
        CelExpr::Ident(n) => n.clone(),
        CelExpr::Select(s) => format!("{}.{}", describe(&s.operand), s.field),
        _ => "…".into(),
    }
}

/// The longest expression accepted, in characters.
pub const MAX_CHARS: usize = 4000;
/// The deepest nesting of brackets `( [ {` accepted.
pub const MAX_NESTING: usize = 16;
/// The most operators that chain to the left (`+ - * / % < > = ? : .` characters, and the word
/// `in`) accepted. `&&` and `||` are not counted: the parser builds their chains balanced, and
/// `!!x` / `--x` fold to one node or none.
pub const MAX_OPERATORS: usize = 64;

/// The parser's own limit on nested sub-expressions (brackets, arguments, list items and the
/// branches of `? :`), which holds even where string literals fool the count in [`guard`].
const PARSER_DEPTH: u16 = (MAX_NESTING + MAX_OPERATORS / 2) as u16;

/// Refuses, before the parser sees it, text whose tree could be deeper than every walk over it
/// (the parser's, the checker's, the compiler's, evaluation, explanation, drop) can take on a
/// 512 KiB stack in a debug build (threads have 2 MiB; release frames are several times
/// smaller). Operators are counted on the raw text, inside string literals too: over-counting a
/// date's dashes costs nothing, while a string the parser ends where we do not could hide them.
/// Brackets are counted here for a clear message; the parser's own recursion limit bounds them
/// whatever the strings hold.
pub fn guard(src: &str) -> Result<(), RuleError> {
    let len = src.chars().count();
    if len > MAX_CHARS {
        return Err(RuleError::new(
            0,
            len,
            format!("表达式过长（最多 {MAX_CHARS} 个字符），请拆成几个条件"),
            format!("expression too long ({MAX_CHARS} characters at most); split it into several conditions"),
        ));
    }
    let (mut depth, mut operators) = (0usize, 0usize);
    let mut previous = ' ';
    let chars: Vec<char> = src.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(RuleError::new(
                        i,
                        i + 1,
                        format!("表达式嵌套过深（括号最多 {MAX_NESTING} 层），请拆成几个条件"),
                        format!("expression nested too deeply ({MAX_NESTING} levels of brackets at most)"),
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '?' | ':' | '.' => operators += 1,
            'i' if chars.get(i + 1) == Some(&'n')
                && !(previous.is_alphanumeric() || previous == '_')
                && !chars.get(i + 2).is_some_and(|n| n.is_alphanumeric() || *n == '_') =>
            {
                operators += 1
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(RuleError::new(
                i,
                i + 1,
                format!(
                    "表达式过长/嵌套过深（最多 {MAX_OPERATORS} 层运算）：运算符太多，请拆成几个条件，或把多个取值写成 in [\"…\", \"…\"] 列表"
                ),
                format!(
                    "expression too long or too deep ({MAX_OPERATORS} operators at most); split it into several conditions"
                ),
            ));
        }
        previous = c;
    }
    Ok(())
}

const OUT_OF_RANGE_EN: &str = "number out of range (integers up to 9223372036854775807)";

fn out_of_range_zh() -> String {
    "数值超出范围或写法有误：整数最大 9223372036854775807，小数请写成 12.5 这样的形式（金额以万元为单位）".into()
}

/// Parses an expression into the subset's tree (fields resolved, types not yet checked).
pub fn parse(src: &str) -> Result<Expr, RuleError> {
    let len = src.chars().count();
    if src.trim().is_empty() {
        return Err(RuleError::new(0, 0, "表达式为空".into(), "the expression is empty".into()));
    }
    guard(src)?;
    let text = rewrite_has(src);
    let parser = Parser::new().max_recursion_depth(PARSER_DEPTH);
    match parser.parse_with_source_info(&text) {
        Ok((expr, info)) => Lower { info: &info, len, text: &text }.lower(&expr),
        Err(errors) => {
            let first = errors.errors.first();
            let (line, col) = first.map_or((1, 1), |e| e.pos);
            let at = offset_of(src, line, col);
            let msg = first.map(|e| e.msg.clone()).unwrap_or_default();
            let zh = if msg.contains("literal") && msg.contains("invalid") {
                out_of_range_zh()
            } else if msg.contains("Recursion limit") {
                format!("表达式嵌套过深（括号、函数参数和 ? : 合计最多 {PARSER_DEPTH} 层），请拆成几个条件")
            } else if msg.contains("invalid argument to has()") {
                "has() 的参数应为一个字段名，例如 has(revenue)".to_string()
            } else if msg.contains("EOF") {
                "表达式不完整：结尾处缺少内容（运算符后面缺运算数，或括号、引号未闭合）".to_string()
            } else if msg.contains("token recognition error") {
                "这里有无法识别的字符（字符串请用英文引号，运算符请用半角符号）".to_string()
            } else {
                "语法错误：请检查这附近的括号、引号和运算符".to_string()
            };
            Err(RuleError::new(at, (at + 1).min(len.max(at + 1)), zh, format!("syntax error: {msg}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn lowers_the_subset() {
        let e = parse("tags.contains(\"high_tech\") && tag_since(\"high_tech\") >= date(\"2025-01-01\")").unwrap();
        let Kind::Binary(BinOp::And, a, b) = &e.kind else { panic!("{e:?}") };
        assert!(
            matches!(&a.kind, Kind::Call(Func::Contains, args) if matches!(args[0].kind, Kind::Field(Field::Tags)))
        );
        assert!(matches!(&b.kind, Kind::Binary(BinOp::Ge, ..)));
        assert!(matches!(parse("has(revenue)").unwrap().kind, Kind::Call(Func::Has, _)));
        assert!(matches!(parse("\"x\" in tags").unwrap().kind, Kind::Binary(BinOp::In, ..)));
        assert!(matches!(parse("-revenue").unwrap().kind, Kind::Neg(_)));
        assert!(matches!(parse("industry.within(\"C\")").unwrap().kind, Kind::Call(Func::Within, _)));
        assert_eq!(parse("revenue > 1 && employees < 2").unwrap().fields(), [Field::Revenue, Field::Employees]);
    }

    #[test]
    fn has_inside_strings_is_left_alone() {
        assert_eq!(
            rewrite_has("has(x) && \"has(\" == y && hash(1) && a.has(b)"),
            "HAS(x) && \"has(\" == y && hash(1) && a.has(b)"
        );
    }

    #[test]
    fn refuses_what_is_outside_the_subset_with_positions() {
        let e = parse("revenue > 1 && rd_ration >= 3").unwrap_err();
        assert!(e.zh.contains("rd_ratio") && e.en.contains("did you mean `rd_ratio`"), "{e:?}");
        assert_eq!(e.start, 15);
        // Positions count characters, not bytes, also after Chinese text.
        let e = parse("\"字符串\" == \"x\" && rd_ration >= 3").unwrap_err();
        assert_eq!((e.start, e.end), (16, 25), "{e:?}");
        let e = parse("revenue %2 == 0").unwrap_err();
        assert!(e.zh.contains("取余"));
        let e = parse("tags.exists(t, t == \"a\")").unwrap_err();
        assert!(e.zh.contains("宏"));
        let e = parse("size(tags) > 1").unwrap_err();
        assert!(e.zh.contains("不支持的函数「size()」"));
        let e = parse("revenue >").unwrap_err();
        assert!(e.zh.contains("不完整") && e.start >= 8, "{e:?}");
        for big in ["rd_ratio > 99999999999999999999", "rd_ratio > 18446744073709551615u", "rd_ratio > 1e400"] {
            let e = parse(big).unwrap_err();
            assert!(e.zh.contains("数值超出范围"), "{big}: {e:?}");
        }
        let e = parse("a.b > 1").unwrap_err();
        assert!(e.zh.contains("字段") || e.zh.contains("不支持"), "{e:?}");
        assert!(parse("   ").is_err());
    }

    /// One operator or one bracket more than the limits is refused before parsing, with a message
    /// that says what to change.
    #[test]
    fn the_guard_refuses_one_step_past_each_limit() {
        let e = parse(&format!("rd_ratio{} > 0", " + 1".repeat(MAX_OPERATORS))).unwrap_err();
        assert!(e.zh.contains("过长") && e.zh.contains(&MAX_OPERATORS.to_string()), "{e:?}");
        let e =
            parse(&format!("{}rd_ratio{} > 0", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1))).unwrap_err();
        assert!(e.zh.contains("嵌套过深") && e.zh.contains(&MAX_NESTING.to_string()), "{e:?}");
        let e = parse(&format!("rd_ratio > {}", "1".repeat(MAX_CHARS))).unwrap_err();
        assert!(e.zh.contains("过长"), "{e:?}");
        // Far past the limits, as an attacker sends it: refused just the same, and fast.
        for src in [
            format!("rd_ratio{} > 0", "+1".repeat(100_000)),
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            "!".repeat(1_000_000),
        ] {
            assert!(parse(&src).is_err());
        }
        // Dates and codes in strings count their dashes and dots, but a realistic condition fits.
        let realistic = (0..30).map(|i| format!("industry.within(\"C{}\")", 13 + i)).collect::<Vec<_>>().join(" || ");
        assert!(parse(&realistic).is_ok());
    }
}
