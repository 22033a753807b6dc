//! The identifier rule shared by the binder and the catalog: an unquoted name matches
//! case-insensitively, a quoted one (`` `Name` `` or `"Name"`) exactly.

use sqlparser::ast::Ident;

/// Whether `stored` (a name as created) is what `ident` asks for.
pub(crate) fn ident_matches(stored: &str, ident: &Ident) -> bool {
    match ident.quote_style {
        Some(_) => stored == ident.value,
        None => {
            stored.eq_ignore_ascii_case(&ident.value) || stored.to_lowercase() == ident.value.to_lowercase()
        }
    }
}
