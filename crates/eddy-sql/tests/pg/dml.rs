//! Random `INSERT`, `UPDATE` and `DELETE` statements for the incremental variant. Assignments
//! keep the column's exact type (a literal of that type, `NULL`, another column of the same
//! type, `col + 1`, `LOWER(col)`...), so that no assignment cast or rounding rule, which the
//! two systems may not share, decides the result.

use super::expr::{predicate, Scope, ScopeColumn};
use super::rng::Rng;
use super::tables::{insert_sql, Table, Ty};

/// A random statement changing one of `tables`; `tables` is not changed (the statement's
/// effect is whatever the systems make of it).
pub fn random_change(rng: &mut Rng, tables: &[Table]) -> String {
    let table = rng.pick(tables);
    let scope: Scope =
        table.columns.iter().map(|column| ScopeColumn { sql: column.name.clone(), ty: column.ty }).collect();
    // Rarely no WHERE: a whole table deleted or updated leaves little to query.
    let condition = |rng: &mut Rng| match rng.chance(5) {
        true => String::new(),
        false => format!(" WHERE {}", predicate(rng, &scope, 1)),
    };
    match rng.below(10) {
        0..=3 => {
            let rows: Vec<Vec<String>> = (0..rng.range(1, 3)).map(|_| table.random_row(rng)).collect();
            insert_sql(&table.name, &rows)
        }
        4 => format!("INSERT INTO {0} SELECT * FROM {0}{1}", table.name, condition(rng)),
        5..=7 => {
            let n_assignments = rng.range(1, 2) as usize;
            let mut assignments = Vec::new();
            for _ in 0..n_assignments {
                let column = rng.pick(&table.columns);
                let same_type: Vec<&str> = table
                    .columns
                    .iter()
                    .filter(|other| other.ty == column.ty)
                    .map(|other| other.name.as_str())
                    .collect();
                let value = match rng.below(5) {
                    0 => "NULL".to_owned(),
                    1 => rng.pick(&same_type).to_string(),
                    2 => match column.ty {
                        Ty::Int | Ty::BigInt => format!("{} + 1", column.name),
                        Ty::Text => format!("LOWER({})", column.name),
                        Ty::Bool => format!("NOT {}", column.name),
                        _ => column.ty.literal(rng),
                    },
                    _ => column.ty.literal(rng),
                };
                let assignment = format!("{} = {value}", column.name);
                if !assignments.iter().any(|other: &String| other.starts_with(&format!("{} =", column.name)))
                {
                    assignments.push(assignment);
                }
            }
            format!("UPDATE {} SET {}{}", table.name, assignments.join(", "), condition(rng))
        }
        _ => format!("DELETE FROM {}{}", table.name, condition(rng)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_a_table_and_replay() {
        let tables: Vec<Table> = (0..2).map(|index| Table::random(&mut Rng::new(9), index)).collect();
        for seed in 0..30 {
            let change = random_change(&mut Rng::new(seed), &tables);
            assert_eq!(change, random_change(&mut Rng::new(seed), &tables));
            assert!(change.contains(" t0") || change.contains(" t1"), "{change}");
        }
    }
}
