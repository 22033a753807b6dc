//! Random tables: column types, values (small domains, so that joins match, groups repeat and
//! rows are duplicated), `NULL`s, and the SQL text both systems accept to create and fill them.
//!
//! Only spellings PostgreSQL and eddy share are written (`DOUBLE PRECISION`, not `DOUBLE`), so
//! one script serves both.

use super::rng::Rng;

/// A column type the generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `INT`.
    Int,
    /// `BIGINT`.
    BigInt,
    /// `DECIMAL(precision, scale)`.
    Decimal(u8, u8),
    /// `DOUBLE PRECISION`, holding only multiples of 1/4 so that sums are exact.
    Double,
    /// `VARCHAR`.
    Text,
    /// `BOOLEAN`.
    Bool,
    /// `DATE`.
    Date,
}

/// Types that compare with each other and print alike once normalised: a result column's
/// family decides how PostgreSQL's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `INT`, `BIGINT`, `DECIMAL`: exact numbers, compared by value.
    Exact,
    /// `DOUBLE PRECISION`.
    Float,
    /// `VARCHAR`.
    Text,
    /// `BOOLEAN`.
    Bool,
    /// `DATE`.
    Date,
}

impl Ty {
    /// The type's name in SQL.
    pub fn sql(self) -> String {
        match self {
            Ty::Int => "INT".into(),
            Ty::BigInt => "BIGINT".into(),
            Ty::Decimal(precision, scale) => format!("DECIMAL({precision}, {scale})"),
            Ty::Double => "DOUBLE PRECISION".into(),
            Ty::Text => "VARCHAR".into(),
            Ty::Bool => "BOOLEAN".into(),
            Ty::Date => "DATE".into(),
        }
    }

    /// The type's family.
    pub fn family(self) -> Family {
        match self {
            Ty::Int | Ty::BigInt | Ty::Decimal(..) => Family::Exact,
            Ty::Double => Family::Float,
            Ty::Text => Family::Text,
            Ty::Bool => Family::Bool,
            Ty::Date => Family::Date,
        }
    }

    /// A random non-`NULL` value of this type as a SQL literal.
    pub fn literal(self, rng: &mut Rng) -> String {
        match self {
            Ty::Int => {
                if rng.chance(5) {
                    rng.range(100_000, 2_000_000).to_string()
                } else {
                    rng.range(-3, 9).to_string()
                }
            }
            Ty::BigInt => {
                if rng.chance(10) {
                    rng.range(3_000_000_000, 3_000_000_010).to_string()
                } else {
                    rng.range(-20, 40).to_string()
                }
            }
            Ty::Decimal(precision, scale) => decimal_literal(rng, precision, scale),
            Ty::Double => double_literal(rng),
            Ty::Text => text_literal(rng),
            Ty::Bool => (if rng.chance(50) { "TRUE" } else { "FALSE" }).into(),
            Ty::Date => date_literal(rng),
        }
    }

    /// A random column type (integers and strings most often: they join and group).
    pub fn random(rng: &mut Rng) -> Ty {
        match rng.below(12) {
            0..=2 => Ty::Int,
            3 => Ty::BigInt,
            4 => *rng.pick(&[Ty::Decimal(5, 2), Ty::Decimal(8, 3), Ty::Decimal(10, 0), Ty::Decimal(12, 4)]),
            5 => Ty::Double,
            6..=8 => Ty::Text,
            9 => Ty::Bool,
            _ => Ty::Date,
        }
    }
}

/// A `DECIMAL(precision, scale)` literal with a few digits (products stay far below 38 digits).
fn decimal_literal(rng: &mut Rng, precision: u8, scale: u8) -> String {
    let integer_digits = (precision - scale).min(3) as u32;
    let fraction_digits = scale.min(2) as u32;
    let integer = rng.range(0, 10_i64.pow(integer_digits) - 1) / if rng.chance(50) { 10 } else { 1 };
    let sign = if rng.chance(30) { "-" } else { "" };
    if fraction_digits == 0 {
        return format!("{sign}{integer}");
    }
    let fraction = rng.range(0, 10_i64.pow(fraction_digits) - 1);
    format!("{sign}{integer}.{fraction:0width$}", width = fraction_digits as usize)
}

/// A multiple of 1/4 between -10 and 10, sometimes large: exact in binary, and small enough
/// (far below 2^53 / 4 even summed over a cross join) that sums and products do not depend on
/// the order of evaluation.
fn double_literal(rng: &mut Rng) -> String {
    if rng.chance(5) {
        return "1e9".into();
    }
    let quarters = rng.range(-40, 40);
    let value = quarters as f64 / 4.0;
    format!("{value:?}")
}

/// One of a few short strings: empty, case variants, a quote, LIKE's wildcards as data.
fn text_literal(rng: &mut Rng) -> String {
    let value = *rng.pick(&["", "a", "ab", "abc", "b", "ba", "B", "x y", "it's", "%", "_a", "zz", "a%"]);
    format!("'{}'", value.replace('\'', "''"))
}

/// A date around 2024 and a few far ones.
fn date_literal(rng: &mut Rng) -> String {
    let value = match rng.below(10) {
        0 => "1999-12-31".to_owned(),
        1 => "2000-02-29".to_owned(),
        _ => format!("2024-{:02}-{:02}", rng.range(1, 3), rng.range(1, 28)),
    };
    format!("DATE '{value}'")
}

/// A column of a generated table.
#[derive(Clone, Debug)]
pub struct Column {
    /// Its name, unique across all tables of a round (`a0`, `b2`), so no reference is ambiguous.
    pub name: String,
    /// Its type.
    pub ty: Ty,
}

/// A generated table and its rows (as SQL literals, `NULL` included).
#[derive(Clone, Debug)]
pub struct Table {
    /// `t0`, `t1`, ...
    pub name: String,
    /// Its columns; the first is an `INT` with few values (a join and group key).
    pub columns: Vec<Column>,
    /// Its rows.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A random table `t<index>` with 2 to 5 columns and 0 to 8 rows.
    pub fn random(rng: &mut Rng, index: usize) -> Table {
        let letter = (b'a' + index as u8) as char;
        let mut types = vec![Ty::Int, Ty::Text];
        for _ in 0..rng.below(4) {
            types.push(Ty::random(rng));
        }
        let columns: Vec<Column> = types
            .into_iter()
            .enumerate()
            .map(|(position, ty)| Column { name: format!("{letter}{position}"), ty })
            .collect();
        let n_rows = if rng.chance(4) { 0 } else { rng.range(2, 8) as usize };
        let mut table = Table { name: format!("t{index}"), columns, rows: Vec::new() };
        for _ in 0..n_rows {
            let row = if !table.rows.is_empty() && rng.chance(15) {
                rng.pick(&table.rows).clone()
            } else {
                table.random_row(rng)
            };
            table.rows.push(row);
        }
        table
    }

    /// A random row: each value `NULL` with probability 15%, the key column's values in 0..4.
    pub fn random_row(&self, rng: &mut Rng) -> Vec<String> {
        self.columns
            .iter()
            .enumerate()
            .map(|(position, column)| {
                if rng.chance(15) {
                    "NULL".to_owned()
                } else if position == 0 {
                    rng.range(0, 4).to_string()
                } else {
                    column.ty.literal(rng)
                }
            })
            .collect()
    }

    /// `CREATE TABLE` and, if it has rows, one `INSERT ... VALUES` statement.
    pub fn create_sql(&self) -> String {
        let columns: Vec<String> =
            self.columns.iter().map(|column| format!("{} {}", column.name, column.ty.sql())).collect();
        let mut sql = format!("CREATE TABLE {} ({});\n", self.name, columns.join(", "));
        if !self.rows.is_empty() {
            sql.push_str(&insert_sql(&self.name, &self.rows));
            sql.push_str(";\n");
        }
        sql
    }
}

/// `INSERT INTO name VALUES (...), (...)`.
pub fn insert_sql(name: &str, rows: &[Vec<String>]) -> String {
    let rows: Vec<String> = rows.iter().map(|row| format!("({})", row.join(", "))).collect();
    format!("INSERT INTO {name} VALUES {}", rows.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_deterministic_and_well_formed() {
        let a = Table::random(&mut Rng::new(3), 1).create_sql();
        assert_eq!(a, Table::random(&mut Rng::new(3), 1).create_sql());
        assert!(a.starts_with("CREATE TABLE t1 (b0 INT, b1 VARCHAR"), "{a}");
        for seed in 0..50 {
            let table = Table::random(&mut Rng::new(seed), 0);
            assert!(table.rows.iter().all(|row| row.len() == table.columns.len()));
        }
    }
}
