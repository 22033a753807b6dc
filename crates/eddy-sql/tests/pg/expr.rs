//! Random scalar expressions and predicates over a scope of columns, in the subset whose
//! semantics PostgreSQL and eddy share: `+ - *` (never `/`: integer division differs), `CASE`,
//! `COALESCE`, `NULLIF`, `ABS`, `||`, `UPPER`, `LOWER`, `SUBSTRING`, `CHAR_LENGTH`, comparisons,
//! `AND`/`OR`/`NOT`, `IS [NOT] NULL`, `IS [NOT] DISTINCT FROM`, `[NOT] IN (list)`,
//! `[NOT] BETWEEN`, `[NOT] LIKE`, `%`/`MOD` and `ROUND` where the types agree, `EXTRACT`,
//! `POSITION`, `TRIM`, `REPLACE`, simple `CASE`, and
//! aggregates (`COUNT`, `SUM`, `MIN`, `MAX`, `COUNT(DISTINCT)`, `AVG` of doubles only, `FILTER`).

use super::rng::Rng;
use super::tables::{Family, Ty};

/// A column an expression may use: its qualified name (`x3.b0`) and type.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// How to refer to it.
    pub sql: String,
    /// Its type.
    pub ty: Ty,
}

/// Names visible to an expression.
pub type Scope = Vec<ScopeColumn>;

/// The columns of `scope` in `family`.
pub fn columns_of(scope: &Scope, family: Family) -> Vec<&ScopeColumn> {
    scope.iter().filter(|column| column.ty.family() == family).collect()
}

/// A literal of `family`; negative numbers in parentheses.
pub fn literal(rng: &mut Rng, family: Family) -> String {
    if family == Family::Exact {
        // Mostly values the key columns hold; sometimes a decimal near them.
        let text = match rng.below(10) {
            0..=6 => rng.range(-1, 6).to_string(),
            7 | 8 => format!("{}.{}", rng.range(-1, 6), rng.pick(&["5", "25", "00", "75"])),
            _ => Ty::Int.literal(rng),
        };
        return if text.starts_with('-') { format!("({text})") } else { text };
    }
    let ty = match family {
        Family::Exact => Ty::Int,
        Family::Float => Ty::Double,
        Family::Text => Ty::Text,
        Family::Bool => Ty::Bool,
        Family::Date => Ty::Date,
    };
    let text = ty.literal(rng);
    if text.starts_with('-') {
        format!("({text})")
    } else {
        text
    }
}

/// A random expression of `family` over `scope`, at most `depth` operators deep.
pub fn expression(rng: &mut Rng, scope: &Scope, family: Family, depth: u32) -> String {
    if family == Family::Bool {
        return predicate(rng, scope, depth);
    }
    let columns = columns_of(scope, family);
    if depth == 0 || rng.chance(40) {
        return leaf(rng, &columns, family);
    }
    let next = depth - 1;
    match rng.below(10) {
        0 => format!(
            "CASE WHEN {} THEN {} ELSE {} END",
            predicate(rng, scope, next),
            expression(rng, scope, family, next),
            expression(rng, scope, family, next)
        ),
        1 => format!(
            "CASE WHEN {} THEN {} END",
            predicate(rng, scope, next),
            expression(rng, scope, family, next)
        ),
        2 => format!("COALESCE({}, {})", expression(rng, scope, family, next), literal(rng, family)),
        3 => format!("NULLIF({}, {})", expression(rng, scope, family, next), literal(rng, family)),
        _ => match family {
            Family::Exact => exact_operation(rng, scope, next),
            Family::Float => float_operation(rng, scope, next),
            Family::Text => text_operation(rng, scope, next),
            _ => leaf(rng, &columns, family),
        },
    }
}

fn leaf(rng: &mut Rng, columns: &[&ScopeColumn], family: Family) -> String {
    if !columns.is_empty() && rng.chance(88) {
        rng.pick(columns).sql.clone()
    } else if family == Family::Float {
        format!("CAST({} AS DOUBLE PRECISION)", literal(rng, family))
    } else {
        literal(rng, family)
    }
}

fn exact_operation(rng: &mut Rng, scope: &Scope, depth: u32) -> String {
    let integers: Vec<&ScopeColumn> =
        scope.iter().filter(|column| matches!(column.ty, Ty::Int | Ty::BigInt)).collect();
    let decimals: Vec<&ScopeColumn> =
        scope.iter().filter(|column| matches!(column.ty, Ty::Decimal(..))).collect();
    match rng.below(11) {
        // `%` and `MOD` on integers only: both truncate toward zero (the sign of the dividend).
        6 if !integers.is_empty() => {
            let divisor = *rng.pick(&[2, 3, -3, 5]);
            match rng.chance(50) {
                true => format!("({} % {divisor})", rng.pick(&integers).sql),
                false => format!("MOD({}, {divisor})", rng.pick(&integers).sql),
            }
        }
        // `ROUND` on decimals only (on an integer PostgreSQL picks its double version).
        7 if !decimals.is_empty() => format!("ROUND({}, {})", rng.pick(&decimals).sql, rng.range(0, 1)),
        8 => {
            let field = *rng.pick(&["YEAR", "MONTH", "DAY"]);
            format!("EXTRACT({field} FROM {})", expression(rng, scope, Family::Date, depth))
        }
        9 => format!(
            "POSITION({} IN {})",
            literal(rng, Family::Text),
            expression(rng, scope, Family::Text, depth)
        ),
        10 => {
            // A simple CASE.
            let subject = expression(rng, scope, Family::Exact, depth);
            let first = expression(rng, scope, Family::Exact, depth);
            let second = expression(rng, scope, Family::Exact, depth);
            format!(
                "CASE {subject} WHEN {} THEN {first} WHEN {} THEN {second} END",
                rng.range(0, 2),
                rng.range(3, 4)
            )
        }
        0 => format!(
            "({} + {})",
            expression(rng, scope, Family::Exact, depth),
            expression(rng, scope, Family::Exact, depth)
        ),
        1 => format!(
            "({} - {})",
            expression(rng, scope, Family::Exact, depth),
            expression(rng, scope, Family::Exact, depth)
        ),
        // One factor a small integer, so that decimal scales and integer ranges stay small.
        2 => format!("({} * {})", expression(rng, scope, Family::Exact, depth), rng.range(-3, 4)),
        3 => format!("ABS({})", expression(rng, scope, Family::Exact, depth)),
        4 => format!("CHAR_LENGTH({})", expression(rng, scope, Family::Text, depth)),
        _ => format!("(-{})", expression(rng, scope, Family::Exact, depth)),
    }
}

fn float_operation(rng: &mut Rng, scope: &Scope, depth: u32) -> String {
    match rng.below(4) {
        0 => format!(
            "({} + {})",
            expression(rng, scope, Family::Float, depth),
            expression(rng, scope, Family::Float, depth)
        ),
        1 => format!("({} * 2)", expression(rng, scope, Family::Float, depth)),
        2 => {
            let integers: Vec<&ScopeColumn> =
                scope.iter().filter(|column| matches!(column.ty, Ty::Int | Ty::BigInt)).collect();
            match integers.is_empty() {
                true => format!("ABS({})", expression(rng, scope, Family::Float, depth)),
                false => format!("CAST({} AS DOUBLE PRECISION)", rng.pick(&integers).sql),
            }
        }
        _ => format!(
            "({} - {})",
            expression(rng, scope, Family::Float, depth),
            expression(rng, scope, Family::Float, depth)
        ),
    }
}

fn text_operation(rng: &mut Rng, scope: &Scope, depth: u32) -> String {
    match rng.below(8) {
        0 => format!(
            "({} || {})",
            expression(rng, scope, Family::Text, depth),
            expression(rng, scope, Family::Text, depth)
        ),
        1 => format!("UPPER({})", expression(rng, scope, Family::Text, depth)),
        2 => format!("LOWER({})", expression(rng, scope, Family::Text, depth)),
        3 => format!(
            "SUBSTRING({} FROM {} FOR {})",
            expression(rng, scope, Family::Text, depth),
            rng.range(1, 3),
            rng.range(0, 3)
        ),
        5 => format!("TRIM({})", expression(rng, scope, Family::Text, depth)),
        6 => format!(
            "REPLACE({}, {}, {})",
            expression(rng, scope, Family::Text, depth),
            literal(rng, Family::Text),
            literal(rng, Family::Text)
        ),
        _ => format!("SUBSTRING({} FROM {})", expression(rng, scope, Family::Text, depth), rng.range(1, 3)),
    }
}

/// Families that order (and so compare with `<`): all but `BOOLEAN`.
const ORDERED: [Family; 4] = [Family::Exact, Family::Text, Family::Date, Family::Float];

/// A family to compare in, preferring ones `scope` has columns of.
fn comparable_family(rng: &mut Rng, scope: &Scope) -> Family {
    let present: Vec<Family> =
        ORDERED.iter().copied().filter(|family| !columns_of(scope, *family).is_empty()).collect();
    if present.is_empty() || rng.chance(10) {
        *rng.pick(&ORDERED)
    } else {
        *rng.pick(&present)
    }
}

/// A random predicate over `scope`.
pub fn predicate(rng: &mut Rng, scope: &Scope, depth: u32) -> String {
    let next = depth.saturating_sub(1);
    if depth > 0 && rng.chance(30) {
        return match rng.below(3) {
            0 => format!("({} AND {})", predicate(rng, scope, next), predicate(rng, scope, next)),
            1 => format!("({} OR {})", predicate(rng, scope, next), predicate(rng, scope, next)),
            _ => format!("(NOT {})", predicate(rng, scope, next)),
        };
    }
    let family = comparable_family(rng, scope);
    let subject = expression(rng, scope, family, next.min(1));
    match rng.below(12) {
        0 => {
            let booleans = columns_of(scope, Family::Bool);
            match booleans.is_empty() {
                true => format!("{subject} IS NULL"),
                false => rng.pick(&booleans).sql.clone(),
            }
        }
        1 if rng.chance(50) => {
            let not = if rng.chance(50) { "NOT " } else { "" };
            let other = expression(rng, scope, family, next.min(1));
            format!("{subject} IS {not}DISTINCT FROM {other}")
        }
        1 => format!("{subject} IS NULL"),
        2 => format!("{subject} IS NOT NULL"),
        3 | 4 => {
            let not = if rng.chance(30) { "NOT " } else { "" };
            let mut items: Vec<String> = (0..rng.range(1, 4)).map(|_| literal(rng, family)).collect();
            if rng.chance(15) {
                items.push(format!("CAST(NULL AS {})", representative(family).sql()));
            }
            format!("{subject} {not}IN ({})", items.join(", "))
        }
        5 if family != Family::Float => {
            let not = if rng.chance(30) { "NOT " } else { "" };
            format!("{subject} {not}BETWEEN {} AND {}", literal(rng, family), literal(rng, family))
        }
        6 | 7 if family == Family::Text => {
            let not = if rng.chance(30) { "NOT " } else { "" };
            let pattern = *rng.pick(&["a%", "%b%", "_", "%", "a_c", "%a", "_b%", "", "x y"]);
            format!("{subject} {not}LIKE '{pattern}'")
        }
        _ => {
            let operator = *rng.pick(&["=", "<>", "<", "<=", ">", ">=", "<>", ">=", "<="]);
            let other = if rng.chance(50) {
                literal(rng, family)
            } else {
                expression(rng, scope, family, next.min(1))
            };
            format!("{subject} {operator} {other}")
        }
    }
}

/// A type of `family`, for `CAST(NULL AS ...)`.
fn representative(family: Family) -> Ty {
    match family {
        Family::Exact => Ty::Int,
        Family::Float => Ty::Double,
        Family::Text => Ty::Text,
        Family::Bool => Ty::Bool,
        Family::Date => Ty::Date,
    }
}

/// A random aggregate call over `scope` and the family of its result.
pub fn aggregate(rng: &mut Rng, scope: &Scope) -> (String, Family) {
    let (call, family) = match rng.below(9) {
        0 => ("COUNT(*)".to_owned(), Family::Exact),
        1 => {
            let family = *rng.pick(&[Family::Exact, Family::Text, Family::Bool, Family::Date]);
            (format!("COUNT({})", expression(rng, scope, family, 1)), Family::Exact)
        }
        2 => {
            let family = comparable_family(rng, scope);
            (format!("COUNT(DISTINCT {})", expression(rng, scope, family, 1)), Family::Exact)
        }
        3 | 4 => {
            let family = if columns_of(scope, Family::Float).is_empty() || rng.chance(70) {
                Family::Exact
            } else {
                Family::Float
            };
            let distinct = if rng.chance(15) { "DISTINCT " } else { "" };
            (format!("SUM({distinct}{})", expression(rng, scope, family, 1)), family)
        }
        5 if !columns_of(scope, Family::Float).is_empty() => {
            (format!("AVG({})", expression(rng, scope, Family::Float, 0)), Family::Float)
        }
        _ => {
            let family = comparable_family(rng, scope);
            let function = if rng.chance(50) { "MIN" } else { "MAX" };
            (format!("{function}({})", expression(rng, scope, family, 1)), family)
        }
    };
    if rng.chance(20) {
        (format!("{call} FILTER (WHERE {})", predicate(rng, scope, 1)), family)
    } else {
        (call, family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_use_the_scope_and_replay() {
        let scope = vec![
            ScopeColumn { sql: "x.a0".into(), ty: Ty::Int },
            ScopeColumn { sql: "x.a1".into(), ty: Ty::Text },
        ];
        let made: Vec<String> = (0..20).map(|seed| predicate(&mut Rng::new(seed), &scope, 2)).collect();
        let again: Vec<String> = (0..20).map(|seed| predicate(&mut Rng::new(seed), &scope, 2)).collect();
        assert_eq!(made, again);
        assert!(made.iter().any(|text| text.contains("x.a0")), "{made:?}");
    }
}
