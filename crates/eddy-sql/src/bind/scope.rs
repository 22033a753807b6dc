//! Name scopes: which columns a name can refer to at a point of a query, and under which
//! table names or aliases. A [`Scope`] lists the columns of the row an expression reads, in
//! row order; a correlated subquery also sees the scopes of its enclosing queries.
//!
//! Identifier rule (tables, aliases and columns alike): an unquoted name matches
//! case-insensitively, a quoted one (`` `Name` `` or `"Name"`) exactly. When an unquoted name
//! matches several columns, one whose spelling is exactly the same wins; otherwise the name is
//! ambiguous.

use sqlparser::ast::{self, Ident};

pub(crate) use crate::names::ident_matches;
use crate::plan::Plan;
use crate::types::SqlType;

/// One column of a scope.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScopeColumn {
    /// The table names or aliases the column can be qualified with (`t.c`).
    pub qualifiers: Vec<String>,
    /// Its name; `None` for columns no name reaches (aggregate results, helper columns).
    pub name: Option<String>,
    /// Its type.
    pub ty: SqlType,
}

/// The columns a name can refer to, in row order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
    /// After grouping: the grouped rows' columns, which names no longer reach (kept to say
    /// why a correlated subquery cannot read them).
    pub grouped: Vec<ScopeColumn>,
}

/// How a name resolved in one scope.
pub(crate) enum Resolution {
    /// The column at this position.
    Found(usize),
    /// No column.
    Missing,
    /// Several columns (their positions).
    Ambiguous(Vec<usize>),
}

/// Picks among the candidates matching `ident`: one, the exactly spelled one, or ambiguity.
pub(crate) fn choose<T>(
    candidates: Vec<(usize, &T)>,
    ident: &Ident,
    name: impl Fn(&T) -> &str,
) -> Resolution {
    match candidates.len() {
        0 => Resolution::Missing,
        1 => Resolution::Found(candidates[0].0),
        _ => {
            let exact: Vec<usize> =
                candidates.iter().filter(|(_, c)| name(c) == ident.value).map(|(i, _)| *i).collect();
            if let [one] = exact[..] {
                Resolution::Found(one)
            } else {
                Resolution::Ambiguous(candidates.iter().map(|(i, _)| *i).collect())
            }
        }
    }
}

impl Scope {
    /// A scope of unqualified columns.
    pub fn unqualified(schema: &[(String, SqlType)]) -> Scope {
        Scope {
            columns: schema
                .iter()
                .map(|(name, ty)| ScopeColumn { qualifiers: vec![], name: Some(name.clone()), ty: *ty })
                .collect(),
            grouped: vec![],
        }
    }

    /// The columns of a plan, all qualified by `qualifier` when given.
    pub fn of_plan(plan: &Plan, qualifier: Option<&str>) -> Scope {
        Scope {
            columns: plan
                .columns()
                .into_iter()
                .map(|c| ScopeColumn {
                    qualifiers: qualifier.map(|q| vec![q.to_owned()]).unwrap_or_default(),
                    name: Some(c.name),
                    ty: c.ty,
                })
                .collect(),
            grouped: vec![],
        }
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// The columns of both scopes, `self`'s first.
    pub fn concat(&self, other: &Scope) -> Scope {
        Scope { columns: self.columns.iter().chain(&other.columns).cloned().collect(), grouped: vec![] }
    }

    /// Resolves `[qualifier.]name`.
    pub fn resolve(&self, qualifier: Option<&Ident>, name: &Ident) -> Resolution {
        let candidates: Vec<(usize, &ScopeColumn)> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.as_deref().is_some_and(|n| ident_matches(n, name)))
            .filter(|(_, c)| qualifier.is_none_or(|q| c.qualifiers.iter().any(|s| ident_matches(s, q))))
            .collect();
        choose(candidates, name, |c| c.name.as_deref().unwrap_or(""))
    }

    /// Whether `[qualifier.]name` is a column of the rows this scope grouped.
    pub fn is_grouped_away(&self, qualifier: Option<&Ident>, name: &Ident) -> bool {
        self.grouped.iter().any(|c| {
            c.name.as_deref().is_some_and(|n| ident_matches(n, name))
                && qualifier.is_none_or(|q| c.qualifiers.iter().any(|s| ident_matches(s, q)))
        })
    }

    /// Whether some column is qualified by `qualifier`.
    pub fn has_qualifier(&self, qualifier: &Ident) -> bool {
        self.columns.iter().any(|c| c.qualifiers.iter().any(|s| ident_matches(s, qualifier)))
    }

    /// The names of the columns, for error messages.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .columns
            .iter()
            .filter_map(|c| {
                let name = c.name.as_ref()?;
                Some(match c.qualifiers.first() {
                    Some(q) => format!("`{q}.{name}`"),
                    None => format!("`{name}`"),
                })
            })
            .collect();
        if names.is_empty() {
            "no columns".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// What the expression binder needs from the query binder: binding a subquery (in `WHERE`,
/// the select list, `FROM`) with the enclosing scopes visible. A trait, so that expression
/// binding does not depend on query binding (the query binder implements it).
pub(crate) trait Queries {
    /// Binds a subquery; `outer[0]` is the scope of the query around it (depth 1). Returns its
    /// plan and its columns' names.
    fn subquery(&self, query: &ast::Query, outer: &[&Scope]) -> super::BindResult<(Plan, Vec<String>)>;

    /// The plan of a table, view or `WITH` query named in `FROM`, and the name that
    /// qualifies its columns.
    fn relation(&self, name: &ast::ObjectName) -> super::BindResult<(Plan, String)>;

    /// The catalog table a [`Plan::Get`] names (for its primary key and time attributes).
    fn table(&self, name: &str) -> Option<crate::catalog::Table>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(qualifier: &str, name: &str) -> ScopeColumn {
        ScopeColumn { qualifiers: vec![qualifier.into()], name: Some(name.into()), ty: SqlType::Int }
    }

    #[test]
    fn names_resolve_by_qualifier_and_case_rule() {
        let scope = Scope {
            columns: vec![column("t", "a"), column("u", "a"), column("u", "B"), column("u", "b")],
            grouped: vec![],
        };
        assert!(matches!(scope.resolve(None, &Ident::new("a")), Resolution::Ambiguous(v) if v == [0, 1]));
        assert!(matches!(scope.resolve(Some(&Ident::new("U")), &Ident::new("a")), Resolution::Found(1)));
        assert!(matches!(scope.resolve(None, &Ident::new("b")), Resolution::Found(3)), "exact spelling wins");
        assert!(matches!(scope.resolve(None, &Ident::with_quote('"', "B")), Resolution::Found(2)));
        assert!(matches!(scope.resolve(None, &Ident::with_quote('"', "A")), Resolution::Missing));
        assert!(matches!(scope.resolve(Some(&Ident::new("v")), &Ident::new("a")), Resolution::Missing));
        assert!(scope.has_qualifier(&Ident::new("T")));
        assert_eq!(scope.describe(), "`t.a`, `u.a`, `u.B`, `u.b`");
    }

    #[test]
    fn a_grouped_scope_remembers_what_it_grouped_away() {
        let scope =
            Scope { columns: vec![column("t", "a")], grouped: vec![column("t", "a"), column("t", "c")] };
        assert!(scope.is_grouped_away(Some(&Ident::new("t")), &Ident::new("c")));
        assert!(!scope.is_grouped_away(None, &Ident::new("d")));
        assert_eq!(Scope::default().describe(), "no columns");
    }
}
