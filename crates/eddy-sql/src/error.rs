//! The errors of evaluating a bound expression on one row.
//!
//! An [`EvalError`] says what failed on which values; the renderer (issue 16, later) wraps it
//! with the query, the operator and the row, and either fails the job or sends the row to a
//! dead-letter output.

use thiserror::Error;

use crate::datum::Datum;
use crate::types::SqlType;

/// A `Result` with an [`EvalError`].
pub type EvalResult<T> = Result<T, EvalError>;

/// Whose fault an error is, for the restart logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The data or the query: a restart replays the same row and fails again. Route the row to
    /// a dead-letter output or fix the query.
    Data,
    /// A bug in eddy (a bound expression met a value of a type the binder ruled out).
    Internal,
}

/// A runtime error of one expression on one row.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EvalError {
    /// An arithmetic result does not fit its type.
    #[error("numeric overflow: {operation} does not fit {ty}")]
    Overflow {
        /// The operation with its operands, e.g. `2147483647 + 1`.
        operation: String,
        /// The result type.
        ty: SqlType,
    },
    /// Division (or `MOD`) by zero.
    #[error("division by zero: {operation}")]
    DivisionByZero {
        /// The operation with its operands, e.g. `7 / 0`.
        operation: String,
    },
    /// A `CAST` (explicit, or implicit from a string literal) that has no result.
    #[error("cannot cast {value} to {to}: {reason}")]
    InvalidCast {
        /// The value, as a SQL literal.
        value: String,
        /// The target type.
        to: SqlType,
        /// Why, e.g. `not a number`.
        reason: String,
    },
    /// A function argument outside the function's domain (`LN(0)`, a bad regular expression).
    #[error("invalid argument for {function}: {reason} (value {value})")]
    InvalidArgument {
        /// The function's SQL name.
        function: &'static str,
        /// The offending value, as a SQL literal.
        value: String,
        /// Why.
        reason: String,
    },
    /// A bound expression met a value of the wrong type: a bug in the binder.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EvalError {
    /// Whose fault the error is.
    pub fn class(&self) -> ErrorClass {
        match self {
            EvalError::Internal(_) => ErrorClass::Internal,
            _ => ErrorClass::Data,
        }
    }
}

/// A value as a SQL literal for an error message, cut at 64 characters.
pub(crate) fn show(value: &Datum) -> String {
    let text = value.to_string();
    if text.chars().count() <= 64 {
        return text;
    }
    let cut: String = text.chars().take(61).collect();
    format!("{cut}...")
}

/// The `Internal` error for a value of an unexpected type.
pub(crate) fn unexpected(what: &str, value: &Datum) -> EvalError {
    EvalError::Internal(format!("{what}: unexpected value {}", show(value)))
}
